"""Generator pool: hung, failing and raising generators are skipped and counted, never stall."""

from __future__ import annotations

import time

import pytest

from envs.base import Environment
from envs.generator_pool import GeneratorPool, LocalGeneratorPool
from envs.task import Task


def _test_envs() -> dict:
    """Test-only environments, defined in a function so Ray pickles them by value."""

    class Sleepy(Environment):
        def sample(self, seed: int, difficulty: int = 0) -> Task:
            if seed == 13:
                time.sleep(600)  # hangs on purpose
            return Task(prompt=f"p{seed}", verifier="none", payload={"s": seed}, env_id="test/sleepy", seed=seed)

    class Broken(Environment):
        def sample(self, seed: int, difficulty: int = 0) -> Task:
            raise ValueError("generator bug")

    return {"test/sleepy": Sleepy, "test/broken": Broken}


@pytest.fixture(scope="module")
def pool(ray_cluster):
    with GeneratorPool(num_workers=2, timeout_s=3.0, extra=_test_envs(), preload=("rlve", "rg")) as p:
        yield p


@pytest.mark.slow
def test_hung_generator_is_timed_out_and_replaced(pool):
    requests = [("test/sleepy", s, 0) for s in (1, 13, 2, 3)] + [("test/broken", 0, 0)]
    start = time.monotonic()
    tasks = pool.sample_many(requests)
    elapsed = time.monotonic() - start
    assert elapsed < 60, "a hung generator stalled the pool"
    assert [t.prompt if t else None for t in tasks] == ["p1", None, "p2", "p3", None]
    stats = pool.stats()
    assert stats["timeout"] == 1 and stats["failed"] == 1 and stats["ok"] == 3
    assert stats["restarts"] >= 1
    # the replaced worker serves later requests
    again = pool.sample_many([("test/sleepy", s, 0) for s in range(20, 24)])
    assert all(t is not None for t in again)


@pytest.mark.slow
def test_pool_generates_real_rlve_tasks_identically_to_in_process(pool):
    requests = [("rlve/Multiplication", 5, 1), ("rlve/Multiplication", 6, 3), ("rg/leg_counting", 2, 1)]
    outcomes = pool.run(requests)
    remote = [o.task for o in outcomes]
    local = LocalGeneratorPool().sample_many(requests)
    assert all(t is not None for t in remote), outcomes
    assert [t.to_dict() for t in remote] == [t.to_dict() for t in local]


def test_local_pool_counts_failures():
    local = LocalGeneratorPool(extra=_test_envs())
    outcomes = local.run([("test/broken", 0, 0), ("rlve/Multiplication", 1, 0), ("rlve/NoSuchEnv", 0, 0)])
    assert [o.status for o in outcomes] == ["failed", "ok", "failed"]
    assert "generator bug" in outcomes[0].error
    assert local.stats() == {"ok": 1, "failed": 2, "timeout": 0}
