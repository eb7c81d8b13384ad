"""Curriculum rules on scripted verdict streams, env selection/weighting, calibration, state."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import numpy as np
import pytest

from envs.curriculum import RLVEController, ZayaController, calibrate, make_curriculum, select_env_ids

ENVS = ["rlve/A", "rlve/B", "rlve/C", "rg/x"]
BOUNDS = {e: (0, None) for e in ENVS}


def _group(n_pass: int, size: int = 8) -> list[bool]:
    return [True] * n_pass + [False] * (size - n_pass)


# ---------------------------------------------------------------- RLVE rule
def test_rlve_promotes_after_min_samples_at_h_with_high_accuracy():
    c = RLVEController(initial_difficulty=2, window=4, min_samples=16)
    c.update("e", 2, _group(8))
    assert c.difficulty("e") == 2, "promoted before min_samples"
    c.update("e", 2, _group(7))  # 15/16 = 0.94 >= 0.9
    assert c.difficulty("e") == 3
    assert c.state("e")["n"] == 0 and c.state("e")["correct"] == 0


def test_rlve_no_promotion_below_threshold_and_counters_reset():
    c = RLVEController(initial_difficulty=0, min_samples=16)
    c.update("e", 0, _group(8))
    c.update("e", 0, _group(6))  # 14/16 = 0.875 < 0.9
    assert c.difficulty("e") == 0
    assert c.state("e")["n"] == 0, "counters must reset after every check"
    # the failed check is forgotten: 16 new perfect rollouts promote
    c.update("e", 0, _group(8))
    c.update("e", 0, _group(8))
    assert c.difficulty("e") == 1


def test_rlve_only_rollouts_at_h_count_and_h_never_decreases():
    c = RLVEController(initial_difficulty=3, min_samples=8)
    for d in (0, 1, 2):
        c.update("e", d, _group(8))
    assert c.difficulty("e") == 3 and c.state("e")["n"] == 0
    c.update("e", 3, _group(0))
    assert c.difficulty("e") == 3


def test_rlve_window_sampling_is_uniform_over_window_and_clipped():
    c = RLVEController(initial_difficulty=6, window=4, bounds={"e": (0, None), "low": (0, None)})
    rng = random.Random(0)
    draws = Counter(c.sample_difficulty("e", rng) for _ in range(4000))
    assert set(draws) == {3, 4, 5, 6}
    assert all(abs(n / 4000 - 0.25) < 0.04 for n in draws.values())
    c.set_difficulty("low", 1)
    assert {c.sample_difficulty("low", rng) for _ in range(200)} == {0, 1}


def test_rlve_respects_max_bound():
    c = RLVEController(initial_difficulty=2, min_samples=8, bounds={"e": (0, 2)})
    c.update("e", 2, _group(8))
    assert c.difficulty("e") == 2


# ---------------------------------------------------------------- ZAYA rule
def test_zaya_promotes_above_0_7_demotes_at_zero_and_is_bounded():
    c = ZayaController(initial_difficulty=1, bounds={"e": (0, 3)})
    c.update("e", 1, _group(5))  # 0.625: stay
    assert c.difficulty("e") == 1
    c.update("e", 1, _group(6))  # 0.75 > 0.7: up
    assert c.difficulty("e") == 2
    c.update("e", 1, _group(8))  # stale group at old d: ignored
    assert c.difficulty("e") == 2
    c.update("e", 2, _group(0))  # 0: down
    c.update("e", 1, _group(0))
    c.update("e", 0, _group(0))
    assert c.difficulty("e") == 0, "bounded below"
    for d in range(4):
        c.update("e", c.difficulty("e"), _group(8))
    assert c.difficulty("e") == 3, "bounded above"
    assert c.sample_difficulty("e", random.Random(0)) == 3


# ---------------------------------------------------------------- selection and weighting
def test_include_exclude_and_held_out():
    avail = ["rlve/A", "rlve/B", "rlve/Sudoku", "rg/x", "math/y"]
    train, held = select_env_ids(avail, include=["rlve/*", "rg/*"], exclude=["rlve/B"], held_out=["rlve/Sudoku"])
    assert train == ["rlve/A", "rg/x"] and held == ["rlve/Sudoku"]
    cur = make_curriculum("zaya", avail, include=["rlve/*"], held_out=["rlve/Sudoku"], bounds={})
    drawn = {cur.next_task_spec(s)[0] for s in range(300)}
    assert drawn == {"rlve/A", "rlve/B"} and cur.eval_env_ids == ["rlve/Sudoku"]
    with pytest.raises(ValueError):
        select_env_ids(avail, include=["nothing/*"])


def test_least_sampled_weighting_prefers_rare_envs_and_balances():
    cur = make_curriculum("zaya", ENVS, sampling="least_sampled", bounds=BOUNDS)
    cur.sampler.counts.update({"rlve/A": 50, "rlve/B": 50, "rlve/C": 50, "rg/x": 0})
    w = dict(zip(cur.sampler.env_ids, cur.sampler.weights()))
    assert w["rg/x"] > 40 * w["rlve/A"]
    rng = random.Random(1)
    first = Counter(cur.next_task_spec(rng)[0] for _ in range(40))
    assert first["rg/x"] > 25
    uniform = make_curriculum("zaya", ENVS, bounds=BOUNDS)
    uniform.sampler.counts.update({"rlve/A": 50})
    assert len(set(uniform.sampler.weights())) == 1
    # from scratch, least-sampled keeps counts much tighter than uniform would
    fresh = make_curriculum("zaya", ENVS, sampling="least_sampled", bounds=BOUNDS)
    for _ in range(400):
        fresh.next_task_spec(rng)
    counts = fresh.sampler.counts.values()
    assert max(counts) - min(counts) <= 15


def test_env_weights_scale_the_draws_in_both_modes():
    weights = {"rlve/A": 3.0, "rlve/B": 1.0}
    cur = make_curriculum("zaya", ["rlve/A", "rlve/B"], env_weights=weights, bounds={})
    rng = random.Random(0)
    drawn = Counter(cur.next_task_spec(rng)[0] for _ in range(4000))
    assert drawn["rlve/A"] / 4000 == pytest.approx(0.75, abs=0.03)
    least = make_curriculum("zaya", ["rlve/A", "rlve/B"], env_weights=weights, sampling="least_sampled", bounds={})
    least.sampler.counts.update({"rlve/A": 10, "rlve/B": 10})
    assert least.sampler.weights() == [3.0, 1.0], "equal counts: only the base weights differ"
    least.sampler.counts["rlve/A"] = 12
    assert least.sampler.weights() == [pytest.approx(1.0), 1.0], "3 x (1 + 2)^-1"
    with pytest.raises(ValueError, match="weights must be > 0"):
        make_curriculum("zaya", ["rlve/A"], env_weights={"rlve/A": 0.0}, bounds={})


def test_next_task_spec_is_deterministic_in_rng():
    a = make_curriculum("rlve", ENVS, initial_difficulty=5, bounds=BOUNDS)
    b = make_curriculum("rlve", ENVS, initial_difficulty=5, bounds=BOUNDS)
    specs_a = [a.next_task_spec(random.Random(i)) for i in range(20)]
    assert specs_a == [b.next_task_spec(random.Random(i)) for i in range(20)]
    assert all(2 <= d <= 5 for _, d, _ in specs_a)


def test_unknown_options_and_kind_are_errors():
    with pytest.raises(ValueError):
        make_curriculum("zaya", ENVS, windw=3, bounds=BOUNDS)
    with pytest.raises(ValueError):
        make_curriculum("nope", ENVS)


# ---------------------------------------------------------------- curriculum object
def test_update_metrics_and_state_round_trip():
    cur = make_curriculum("rlve", ENVS, min_samples=8, sampling="least_sampled", bounds=BOUNDS)
    rng = random.Random(0)
    for _ in range(10):
        cur.next_task_spec(rng)
    cur.update("rlve/A", 0, [1.0] * 8)  # rewards: all pass -> promote, zero spread
    cur.update("rlve/B", 0, [0.0, 1.0, 0.5, 0.0])
    cur.update("rlve/Unknown", 0, [1.0])  # ignored
    m = cur.metrics()
    assert m["curriculum/rlve/A/difficulty"] == 1.0
    assert m["curriculum/rlve/B/accuracy"] == 0.25
    assert m["curriculum/rlve/B/samples"] == 4.0
    assert m["curriculum/zero_spread_fraction"] == 0.5
    state = json.loads(json.dumps(cur.state_dict()))
    clone = make_curriculum("rlve", ENVS, min_samples=8, sampling="least_sampled", bounds=BOUNDS)
    clone.load_state_dict(state)
    assert clone.metrics() == m
    assert [clone.next_task_spec(random.Random(i)) for i in range(5)] == [
        cur.next_task_spec(random.Random(i)) for i in range(5)
    ]
    with pytest.raises(ValueError):
        make_curriculum("zaya", ENVS, bounds=BOUNDS).load_state_dict(state)


def test_update_accepts_verdict_like_objects():
    class V:
        def __init__(self, ok: bool) -> None:
            self.correct, self.reward = ok, float(ok)

    cur = make_curriculum("zaya", ENVS, bounds=BOUNDS)
    cur.update("rg/x", 0, [V(True)] * 8)
    assert cur.controller.difficulty("rg/x") == 1


# ---------------------------------------------------------------- calibration
def _scripted(mus: dict[str, float], scale: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    calls = Counter()

    def pass_rate(env_id: str, d: int) -> tuple[int, int]:
        calls[env_id] += 1
        p = 1 / (1 + math.exp((d - mus[env_id]) / scale))
        return int(rng.binomial(16, p)), 16

    return pass_rate, calls


def test_calibration_places_envs_near_half_pass_rate():
    mus = {"rlve/A": 2.0, "rlve/B": 7.0, "rlve/C": 12.0, "rg/x": 0.0}
    fn, calls = _scripted(mus, scale=1.0)
    placed = calibrate(list(mus), fn, lo=0, hi=15, rounds=8, seed=0)
    for env_id, mu in mus.items():
        assert abs(placed[env_id] - mu) <= 1, (env_id, placed[env_id], mu)
    assert all(n == 8 for n in calls.values())


def test_curriculum_calibrate_sets_controller_start_within_bounds():
    cur = make_curriculum("zaya", ENVS, bounds={**BOUNDS, "rg/x": (0, 3)})
    fn, _ = _scripted({"rlve/A": 5.0, "rlve/B": 5.0, "rlve/C": 5.0, "rg/x": 9.0}, scale=0.7, seed=1)
    placed = cur.calibrate(fn, lo=0, hi=12, rounds=8)
    assert placed["rg/x"] == 3, "capped by the env's max difficulty"
    assert all(abs(cur.controller.difficulty(e) - 5) <= 1 for e in ("rlve/A", "rlve/B", "rlve/C"))
