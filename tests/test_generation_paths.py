"""One generation path: the filter, eval, RSA and rsa-rollouts sample through the rollout engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cascade.generation.hf import HFEngine

ROOT = Path(__file__).resolve().parents[1]


class CountingEngine(HFEngine):
    """The real hf engine, counting the generate calls and prompts that reach it."""

    instances: list["CountingEngine"] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prompts = 0
        CountingEngine.instances.append(self)

    def generate(self, prompts_token_ids, n, sampling):
        self.prompts += len(prompts_token_ids) * n
        return super().generate(prompts_token_ids, n, sampling)


@pytest.fixture()
def counting(monkeypatch):
    import cascade.generation.setup as setup

    CountingEngine.instances = []

    def engine(settings, model, tokenizer):
        return CountingEngine(model, tokenizer.pad_token_id, [tokenizer.eos_token_id])

    monkeypatch.setattr(setup, "in_process_engine", engine)
    return CountingEngine.instances


def _served(instances) -> int:
    return sum(e.prompts for e in instances)


def test_cli_eval_and_rsa_sample_through_the_engine(counting, tmp_path):
    from cascade.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["eval", "tiny", "--suite", "tiny", "--k", "1", "--n", "1", "--n-tasks", "1",
                              "--max-new-tokens", "2", "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output[-2000:]
    assert _served(counting) == 4  # one task per env of the tiny suite, n = 1
    res = runner.invoke(app, ["rsa", "tiny", "--prompt", "2+3?", "--n", "2", "--c", "2", "--t", "2", "--budget", "2",
                              "--tail", "2", "--json"])
    assert res.exit_code == 0, res.output[-2000:]
    assert _served(counting) == 4 + 2 * 2  # N rollouts in each of T rounds
    res = runner.invoke(app, ["rsa-rollouts", "tiny", "--out", str(tmp_path / "r.jsonl"), "--env", "arith/add", "--n", "2",
                              "--num-tasks", "1", "--budget", "2"])
    assert res.exit_code == 0, res.output[-2000:]
    assert _served(counting) == 4 + 4 + 2 and len((tmp_path / "r.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("command", [["eval", "tiny", "--suite", "tiny"], ["rsa", "tiny", "--prompt", "1+1?"],
                                     ["rsa-rollouts", "tiny", "--out", "r.jsonl", "--env", "arith/add"]])
def test_inference_commands_name_their_backend_and_refuse_what_cannot_run(command):
    import importlib.util

    from cascade.cli import app

    res = CliRunner().invoke(app, [*command, "--backend", "sglang"])
    assert res.exit_code == 2 and "--backend 'sglang': choose hf or vllm" in res.output
    if importlib.util.find_spec("vllm") is None:  # CPU machines: the optional extra is absent
        res = CliRunner().invoke(app, [*command, "--backend", "vllm"])
        assert res.exit_code == 2 and "needs the vllm extra" in res.output


def test_the_pass_rate_filter_samples_through_the_engine(counting, tmp_path):
    from cascade.config import CascadeConfig
    from cascade.policy import build_tiny_policy
    from cascade.stage_setup import filter_stream as _filter_stream
    from cascade.task_stream import TaskStream
    from cascade.config import EnvSpec
    from verifiers.pool import LocalVerifierPool

    cfg = CascadeConfig.model_validate({"run_dir": str(tmp_path), "stages": [
        {"name": "s", "kind": "reasoning_warmup", "envs": [{"id": "arith/add"}],
         "filter": {"enabled": True, "num_prompts": 3, "num_generations": 2, "max_new_tokens": 2, "max_pass": 1.0}}]})
    from cascade.generation.setup import stage_sampler

    model, tok = build_tiny_policy()
    stream = TaskStream([EnvSpec(id="arith/add")])
    sampler = stage_sampler(cfg.stages[0].generation, None, model, tok)
    stats = _filter_stream(cfg.stages[0], tmp_path, sampler, tok, stream, LocalVerifierPool())
    assert stats["candidates"] == 3 and _served(counting) == 3 * 2
    assert json.loads((tmp_path / "pass_rate_filter.json").read_text())["stats"] == stats


def test_curriculum_calibration_samples_through_the_engine(counting, tmp_path):
    from cascade.config import CascadeConfig
    from cascade.curricula import build_curriculum, calibrate_stage, calibration_settings
    from cascade.generation.setup import stage_sampler
    from cascade.policy import build_tiny_policy
    from cascade.runner import env_specs
    from cascade.task_stream import TaskStream
    from stages import get_stage_kind
    from verifiers.pool import LocalVerifierPool

    cfg = CascadeConfig.model_validate({"run_dir": str(tmp_path), "trainer": {"allow_inactive": ["dppo"]}, "stages": [
        {"name": "s", "kind": "rlve_curriculum", "envs": [{"id": "arith/add"}],
         "curriculum": {"kind": "zaya", "calibrate": {"rounds": 2, "group_size": 2, "hi": 3, "max_new_tokens": 2}}}]})
    stage, model, tok = cfg.stages[0], *build_tiny_policy()
    kind = get_stage_kind(stage.kind)
    specs = env_specs(kind, stage)
    curriculum = build_curriculum(stage, kind, specs)
    stream = TaskStream(specs, curriculum=curriculum)
    sampler = stage_sampler(stage.generation, None, model, tok)
    placed = calibrate_stage(curriculum, calibration_settings(stage, kind), stream, sampler, tok, LocalVerifierPool())
    assert set(placed) == {"arith/add"} and curriculum.controller.difficulty("arith/add") == placed["arith/add"]
    assert _served(counting) == 2 * 2  # rounds x group_size rollouts, all through the engine


def test_no_module_outside_the_engine_calls_hf_generate():
    offenders = []
    for path in (ROOT / "cascade").rglob("*.py"):
        if "generation" in path.relative_to(ROOT / "cascade").parts:
            continue
        if re.search(r"\bmodel\.generate\(", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
