"""The task stream: weighted draws, globs, failures skipped, and curriculum state in checkpoints."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from cascade.callbacks import StreamStateCallback
from cascade.config import EnvSpec
from cascade.task_stream import TaskStream, expand_env_specs
from envs import Environment, Task
from envs.curriculum import make_curriculum
from verifiers import Verdict


def test_weighted_draws_follow_the_weights_and_are_reproducible():
    specs = [EnvSpec(id="arith/add", weight=3), EnvSpec(id="arith/sub", weight=1)]
    a, b = TaskStream(specs, seed=5), TaskStream(specs, seed=5)
    tasks = [a.next_task() for _ in range(400)]
    assert tasks == [b.next_task() for _ in range(400)]
    share = Counter(t.env_id for t in tasks)["arith/add"] / 400
    assert 0.68 < share < 0.82


def test_globs_expand_to_registered_envs_sharing_the_weight():
    specs = expand_env_specs([EnvSpec(id="arith/*", weight=0.9), EnvSpec(id="data/math", weight=0.1)])
    ids = [s.id for s in specs]
    assert {"arith/add", "arith/sub", "arith/mul"} <= set(ids) and ids[-1] == "data/math"
    assert sum(s.weight for s in specs if s.id.startswith("arith/")) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="matches no registered environment"):
        expand_env_specs([EnvSpec(id="nothing/*")])


def test_a_curriculum_stage_draws_by_its_env_weights():
    """The weights a stage gives its envs hold under a curriculum too (they were once dropped)."""
    from cascade.config import StageConfig
    from cascade.curricula import build_curriculum
    from stages import get_stage_kind

    stage = StageConfig.model_validate({"name": "c", "kind": "rlve_curriculum", "curriculum": {"kind": "zaya"},
                                        "envs": [{"id": "arith/add"}, {"id": "arith/mul", "weight": 3}]})
    curriculum = build_curriculum(stage, get_stage_kind("rlve_curriculum"), list(stage.envs))
    stream = TaskStream(list(stage.envs), seed=2, curriculum=curriculum)
    share = Counter(stream.next_task().env_id for _ in range(800))["arith/mul"] / 800
    assert 0.69 < share < 0.81


class _Flaky(Environment):
    def sample(self, seed, difficulty=0):
        if seed % 2:
            raise RuntimeError("generator bug")
        return Task(prompt="p", verifier="exact", payload={"answer": "1"}, env_id="flaky", seed=seed)


def test_failing_generators_are_skipped_and_counted():
    stream = TaskStream([EnvSpec(id="arith/add")], seed=0)
    stream.envs["arith/add"] = _Flaky()
    tasks = [stream.next_task() for _ in range(20)]
    assert all(t.seed % 2 == 0 for t in tasks)
    assert stream.failures["arith/add"] > 0 and stream.metrics()["tasks/failures"] > 0


def test_curriculum_state_is_saved_with_checkpoints_and_restored(tmp_path):
    def stream() -> TaskStream:
        curriculum = make_curriculum("zaya", ["arith/add", "arith/sub"], initial_difficulty=3)
        return TaskStream([EnvSpec(id="arith/add"), EnvSpec(id="arith/sub")], seed=1, curriculum=curriculum)

    first = stream()
    tasks = [first.next_task() for _ in range(4)]
    group = [t for t in tasks[:2] for _ in range(2)]
    first.observe(group, [Verdict.fail("wrong_answer")] * 4, group_size=2)
    (tmp_path / "checkpoint-7").mkdir()
    StreamStateCallback(first).on_save(SimpleNamespace(output_dir=str(tmp_path)), SimpleNamespace(global_step=7, is_world_process_zero=True), None)
    second = stream()
    assert StreamStateCallback.restore(second, tmp_path / "checkpoint-7")
    assert second.state_dict() == first.state_dict()
    assert second.next_task() == first.next_task()  # the draw sequence continues where it stopped
    assert not StreamStateCallback.restore(stream(), tmp_path / "missing")
