"""Pass-rate filtering on the tiny policy: window, stats, cache, and the stream restriction."""

from __future__ import annotations

import pytest

from cascade.config import EnvSpec, PassRateFilter
from cascade.filtering import filter_by_pass_rate, histogram
from cascade.generation.hf import HFEngine
from cascade.policy import build_tiny_policy
from cascade.task_stream import TaskStream
from envs import Task
from verifiers import Verdict, Verifier
from verifiers.pool import LocalVerifierPool


class SolvedEvery(Verifier):
    """Deterministic stand-in for a policy's skill: completion k of a prompt passes iff k % every == 0."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def verify(self, completion, payload):
        key = payload["key"]
        k = self.calls.get(key, 0)
        self.calls[key] = k + 1
        ok = payload["every"] > 0 and k % payload["every"] == 0
        return Verdict(float(ok), ok, "correct" if ok else "wrong_answer")


def task(key: str, every: int) -> Task:
    return Task(prompt="What is 1 + 1?", verifier="solved_every", payload={"key": key, "every": every}, env_id="t")


def test_histogram_bins():
    h = histogram([0.0, 0.05, 0.5, 1.0, 0.99])
    assert h["0.0-0.1"] == 2 and h["0.5-0.6"] == 1 and h["0.9-1.0"] == 2 and sum(h.values()) == 5


def test_filter_keeps_the_window_and_caches(tmp_path):
    model, tokenizer = build_tiny_policy()
    tasks = [task("always", 1), task("half", 2), task("never", 0), task("quarter", 4)]
    cfg = PassRateFilter(enabled=True, num_generations=4, min_pass=0.2, max_pass=0.75, max_new_tokens=4)
    pool = LocalVerifierPool(extra={"solved_every": SolvedEvery})
    kept, stats = filter_by_pass_rate(HFEngine(model, tokenizer.pad_token_id, [tokenizer.eos_token_id]), tokenizer, tasks, cfg, pool, tmp_path)
    assert [t.payload["key"] for t in kept] == ["half", "quarter"]  # 1.0 and 0.0 fall outside [0.2, 0.75]
    assert stats["kept"] == 2 and stats["removed"] == 2 and stats["candidates"] == 4
    assert stats["histogram"]["0.0-0.1"] == 1 and stats["histogram"]["0.9-1.0"] == 1
    # a resumed run reads the cache: no model, no verifier needed
    again, stats2 = filter_by_pass_rate(None, None, tasks, cfg, None, tmp_path)
    assert again == kept and stats2 == stats


def test_restricted_stream_cycles_over_kept_tasks():
    stream = TaskStream([EnvSpec(id="arith/add")], seed=1)
    kept = [stream.next_task() for _ in range(3)]
    stream.restrict_to(kept)
    drawn = [stream.next_task() for _ in range(6)]
    assert set(map(id, drawn)) == set(map(id, kept)) and drawn[:3] == drawn[3:]
    with pytest.raises(ValueError):
        stream.restrict_to([])
