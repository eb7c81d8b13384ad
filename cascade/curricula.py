"""Builds a stage's curriculum from its YAML section (``fixed`` means none: the stream's weights).

With ``calibrate:`` set, each training environment is first placed near the target pass
rate for the starting policy (``Curriculum.calibrate``, Thompson sampling over difficulty).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cascade.config import EnvSpec, StageConfig
from cascade.curriculum_config import CalibrateSettings, curriculum_kwargs, parse_curriculum
from envs import Task
from stages import StageKind

log = logging.getLogger(__name__)


def curriculum_spec(stage: StageConfig, kind: StageKind) -> Any:
    """The stage's curriculum section, else its kind's default."""
    return stage.curriculum if stage.curriculum is not None else parse_curriculum(kind.curriculum)


def build_curriculum(stage: StageConfig, kind: StageKind, specs: list[EnvSpec]) -> Any | None:
    """The stage's adaptive curriculum over ``specs`` (their weights scale the draws), or None."""
    spec = curriculum_spec(stage, kind)
    if spec.kind == "fixed":
        return None
    from envs.curriculum import make_curriculum

    weights = {s.id: s.weight for s in specs}
    return make_curriculum(spec.kind, [s.id for s in specs], env_weights=weights, **curriculum_kwargs(spec))


def calibration_settings(stage: StageConfig, kind: StageKind) -> CalibrateSettings | None:
    return getattr(curriculum_spec(stage, kind), "calibrate", None)


PassRate = Callable[[str, int], tuple[int, int]]


def policy_pass_rate(
    sample_task: Callable[[str, int, int], Task | None],
    rollouts: Callable[[list[Any], int, int], list[list[str]]],
    pool: Any,
    settings: CalibrateSettings,
) -> PassRate:
    """``pass_rate(env_id, d)``: ``group_size`` rollouts of one fresh task at ``d``, judged by the pool.

    ``sample_task(env_id, seed, d)`` draws the task, ``rollouts(prompts, n, max_new_tokens)``
    samples the starting policy. A task that cannot be drawn counts as (0 of 0).
    """
    calls = {"n": 0}

    def pass_rate(env_id: str, difficulty: int) -> tuple[int, int]:
        calls["n"] += 1
        task = sample_task(env_id, settings.seed * 100_003 + calls["n"], difficulty)
        if task is None:
            return 0, 0
        completions = rollouts([task.prompt], settings.group_size, settings.max_new_tokens)[0]
        verdicts = pool.verify([(task.verifier, c, task.payload) for c in completions])
        return sum(v.correct for v in verdicts), len(verdicts)

    return pass_rate


def calibrate_curriculum(curriculum: Any, settings: CalibrateSettings, pass_rate: PassRate) -> dict[str, int]:
    """Place every training environment (see ``Curriculum.calibrate``); logs the placement."""
    placed = curriculum.calibrate(pass_rate, **settings.calibrate_kwargs())
    log.warning("curriculum calibrated to pass rate %.2f: %s", settings.target, placed)
    return placed


def calibrate_stage(curriculum: Any, settings: CalibrateSettings, stream: Any, engine: Any, tokenizer: Any,
                    pool: Any) -> dict[str, int]:
    """Calibrate with the starting policy's own samples, drawn from the stage's task stream.

    Rank 0 calibrates (``engine`` is its sampler) and every rank loads the result, so the ranks'
    curriculum copies stay identical; a rank's own sampling would place its copy differently.
    """
    from cascade.distributed import broadcast_from_main, is_main
    from cascade.generation.engine import SamplingParams, generate_texts

    def rollouts(prompts: list[Any], n: int, max_new_tokens: int) -> list[list[str]]:
        return generate_texts(engine, tokenizer, prompts, n, SamplingParams(max_new_tokens=max_new_tokens))

    def sample_task(env_id: str, seed: int, difficulty: int) -> Task | None:
        return stream.sample_at(env_id, seed, difficulty)

    placed = None
    if is_main():
        placed = calibrate_curriculum(curriculum, settings, policy_pass_rate(sample_task, rollouts, pool, settings))
    state, placed = broadcast_from_main((curriculum.state_dict() if is_main() else None, placed))
    if not is_main():
        curriculum.load_state_dict(state)
    return placed
