"""``curriculum.calibrate`` in the YAML reaches ``Curriculum.calibrate`` for the stage's envs."""

from __future__ import annotations

from pathlib import Path

import yaml

from cascade.config import load_config
from cascade.curricula import build_curriculum, calibrate_curriculum, calibration_settings, policy_pass_rate
from cascade.curriculum_config import RLVEOptions, ZayaOptions
from cascade.runner import env_specs
from cascade.task_stream import TaskStream
from envs.curriculum import CONTROLLERS
from envs.curriculum.controllers import controller_options
from stages import get_stage_kind
from verifiers.pool import LocalVerifierPool

SKILL = 3  # the stand-in policy answers correctly up to this difficulty, wrongly above it


def test_yaml_calibration_places_each_env_where_the_policy_passes_half(tmp_path: Path):
    data = {
        "run_dir": str(tmp_path / "run"),
        "trainer": {"allow_inactive": ["dppo"]},  # on-policy: DPPO's mask cannot act
        "stages": [{
            "name": "rl", "kind": "rlve_curriculum",
            "envs": [{"id": "arith/add"}, {"id": "arith/sub"}],
            "curriculum": {"kind": "zaya", "calibrate": {"rounds": 8, "group_size": 4, "hi": 8, "seed": 1}},
        }],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path)
    stage = cfg.stage("rl")
    kind = get_stage_kind(stage.kind)
    specs = env_specs(kind, stage)
    curriculum = build_curriculum(stage, kind, specs)
    stream = TaskStream(specs, curriculum=curriculum)
    settings = calibration_settings(stage, kind)
    drawn: dict[str, object] = {}

    def sample_task(env_id: str, seed: int, d: int):
        task = stream.sample_at(env_id, seed, d)
        drawn[task.prompt_text()] = task
        return task

    def rollouts(prompts, n, max_new_tokens):
        assert n == 4 and max_new_tokens == settings.max_new_tokens
        task = drawn[prompts[0][-1]["content"] if isinstance(prompts[0], list) else prompts[0]]
        return [[task.reference if task.difficulty <= SKILL else "<answer>-1</answer>"] * n]

    placed = calibrate_curriculum(curriculum, settings, policy_pass_rate(sample_task, rollouts, LocalVerifierPool(), settings))
    assert set(placed) == {"arith/add", "arith/sub"}
    for env_id, d in placed.items():
        assert d in (SKILL, SKILL + 1)  # the pass-rate step sits between them
        assert curriculum.controller.difficulty(env_id) == d


def test_curriculum_options_models_match_the_controllers():
    """The YAML's options models list exactly what each controller's constructor takes."""
    models = {"rlve": RLVEOptions, "zaya": ZayaOptions}
    assert set(models) == set(CONTROLLERS.names())
    for kind, model in models.items():
        own = set(model.model_fields) - set(ZayaOptions.model_fields.keys() & RLVEOptions.model_fields.keys())
        assert own == set(controller_options(kind)), kind
