"""Verifier pools: exceptions, hangs and crashes become zero-reward verdicts and are counted."""

from __future__ import annotations

import os
import sys
import time

import pytest
from ray import cloudpickle  # Ray pickles with its own vendored copy

from verifiers import Verdict, Verifier
from verifiers.pool import LocalVerifierPool, RayVerifierPool

# The Ray workers cannot import this test module; ship its classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Sleepy(Verifier):
    def verify(self, completion, payload):
        time.sleep(float(payload.get("sleep", 0)))
        return Verdict(1.0, True, "correct")


class Crashy(Verifier):
    def verify(self, completion, payload):
        os._exit(3)  # the worker process dies under the pool


class Raises(Verifier):
    def verify(self, completion, payload):
        raise ValueError("broken verifier")


EXTRA = {"sleepy": Sleepy, "crashy": Crashy, "raises": Raises}


def test_local_pool_runs_real_verifiers_and_contains_errors():
    pool = LocalVerifierPool(extra=EXTRA)
    verdicts = pool.verify(
        [("exact", "<answer>4</answer>", {"answer": "4"}), ("raises", "x", {}), ("missing_verifier", "x", {})]
    )
    assert [v.reason for v in verdicts] == ["correct", "verifier_error", "unknown_verifier"]
    assert pool.stats["verifier_error"] == 1


@pytest.mark.slow
def test_ray_pool_times_out_hangs_and_survives_crashes(ray_cluster):
    pool = RayVerifierPool(num_workers=2, timeout_s=3.0, extra=EXTRA)
    try:
        items = [
            ("exact", "<answer>4</answer>", {"answer": "4"}),
            ("sleepy", "x", {"sleep": 60}),
            ("exact", "<answer>5</answer>", {"answer": "4"}),
            ("sleepy", "x", {"sleep": 0}),
            ("crashy", "x", {}),
            ("raises", "x", {}),
        ]
        start = time.monotonic()
        verdicts = pool.verify(items)
        elapsed = time.monotonic() - start
        reasons = [v.reason for v in verdicts]
        assert reasons[0] == "correct" and reasons[2] == "wrong_answer"
        assert reasons[1] == "verifier_timeout" and verdicts[1].reward == 0.0
        # the item queued behind the hang ran on a fresh worker and still got its verdict
        assert reasons[3] == "correct"
        assert reasons[4] == "verifier_crash" and reasons[5] == "verifier_error"
        assert elapsed < 30
        assert pool.stats["verifier_timeout"] == 1
        assert pool.stats["verifier_crash"] >= 2  # the crashing item is retried once on a fresh worker
        # the pool keeps working after replacing workers
        again = pool.verify([("exact", "<answer>1</answer>", {"answer": "1"})] * 4)
        assert all(v.correct for v in again)
    finally:
        pool.close()
