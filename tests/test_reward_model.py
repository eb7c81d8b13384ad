"""Reward-model scoring: gating, batching (in process and in the Ray actor), the tiny RM, chat env.

The behavioral stage itself runs on the tiny model in tests/test_e2e.py (configs/tiny.yaml's
behavioral_rl uses ``reward_model`` with ``path: tiny, gate: task``).
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from safetensors.torch import load_file

from cascade.config import RewardSpec
from cascade.reward_model import build_tiny_reward_model, default_cache_dir, preference_pairs, preference_triples
from cascade.rewards import build_rewards
from cascade.rm_reward import RewardModelReward, apply_gate
from envs import get_env
from verifiers import get_verifier
from verifiers.pool import LocalVerifierPool
from verifiers.reward_model import RewardModelScorer, start_reward_model_server


@pytest.fixture(scope="module")
def tiny_rm() -> str:
    """The default tiny RM, built once (into the same cache the tiny cascade uses)."""
    return str(build_tiny_reward_model(default_cache_dir(0)))


def _pairs(n: int) -> list[tuple[list[dict[str, str]], str]]:
    env = get_env("if/simple", instruction_ids="easy")
    out = []
    for seed in range(n):
        task = env.sample(seed)
        out.append((task.prompt, task.reference if seed % 2 else "no no no " * (seed % 5 + 1)))
    return out


# ---------------------------------------------------------------- gating (hand-made)


def test_gate_sets_the_floor_and_sigmoid_keeps_passes_in_0_1():
    scores = [2.0, -1.0, None, 0.0]
    passed = [True, False, True, True]
    assert apply_gate(scores, passed, floor=0.0, normalize=None) == [2.0, 0.0, 0.0, 0.0]
    out = apply_gate(scores, passed, floor=-0.5, normalize="sigmoid")
    assert out[1] == out[2] == -0.5  # failed gate, and no score (a failed RM call), both get the floor
    assert out[0] == pytest.approx(1 / (1 + math.exp(-2.0))) and out[3] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        apply_gate([1.0], [True, False], 0.0, None)


def test_unknown_options_values_and_missing_checkpoints_are_refused(tmp_path):
    pool = LocalVerifierPool()
    for bad in ({"gates": "task"}, {"gate": "checker"}, {"normalize": "softmax"}, {"path": str(tmp_path / "no-rm")}):
        with pytest.raises(ValueError):
            RewardModelReward(pool, 4, **{"path": str(tmp_path), **bad})


def test_a_model_that_never_loads_raises_instead_of_training_on_floors(tmp_path):
    reward = RewardModelReward(LocalVerifierPool(), 2, path=str(tmp_path))  # a dir, but no checkpoint in it
    task = get_env("chat/prompts").sample(0)
    with pytest.raises(Exception):
        reward([task.prompt], ["hi"], task=[task.to_json()])


@pytest.mark.slow
def test_reward_gates_on_the_tasks_own_checker_and_scores_only_passes(tiny_rm, ray_cluster):
    env = get_env("if/simple", instruction_ids="easy", max_constraints=1)
    tasks = [env.sample(s) for s in range(6)]
    completions = [[{"role": "assistant", "content": t.reference if i % 2 == 0 else f"X, {i}"}] for i, t in enumerate(tasks)]
    checker = get_verifier("instructions")
    passed = [checker.verify(c[0]["content"], t.payload).correct for c, t in zip(completions, tasks)]
    assert all(passed[0::2]) and not all(passed[1::2]), passed
    funcs, weights = build_rewards(
        [RewardSpec(name="reward_model", options={"path": tiny_rm, "gate": "task", "normalize": "sigmoid", "floor": 0.0})],
        LocalVerifierPool(), group_size=2, stream=None,
    )
    reward = funcs[0]
    assert isinstance(reward, RewardModelReward) and weights == [1.0]
    logged: dict[str, float] = {}
    prompts = [t.prompt for t in tasks]
    rewards = reward(prompts, completions, task=[t.to_json() for t in tasks], log_metric=logged.__setitem__)
    direct = RewardModelScorer(tiny_rm).score([(p, c[0]["content"]) for p, c, ok in zip(prompts, completions, passed) if ok])
    assert [r for r, ok in zip(rewards, passed) if not ok] == [0.0] * passed.count(False)
    assert [r for r, ok in zip(rewards, passed) if ok] == pytest.approx([1 / (1 + math.exp(-s)) for s in direct], abs=1e-5)
    assert logged["rm/gated_frac"] == pytest.approx(passed.count(False) / 6)
    assert logged["rm/score_mean"] == pytest.approx(sum(direct) / len(direct), abs=1e-5)
    assert logged["reward_model/gate/reason/constraint_failed"] == pytest.approx(passed.count(False) / 6)
    server = reward._server
    assert server is not None  # Ray is up: the model ran in the actor
    ray_cluster.kill(server, no_restart=True)  # a reward model dying mid-run costs that batch, not the run
    logged.clear()
    again = reward(prompts, completions, task=[t.to_json() for t in tasks], log_metric=logged.__setitem__)
    assert again == [0.0] * 6 and logged["rm/failures"] == 1.0 and reward._server is None
    reward._scorer_call([(prompts[0], "hello")])  # the next batch starts a fresh actor
    server = reward._server
    reward.close()
    assert reward._server is None
    # ray.kill is asynchronous: a call racing it may still be served, but the actor must die
    with pytest.raises(ray_cluster.exceptions.RayActorError):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ray_cluster.get(server.forward_calls.remote(), timeout=30)
            time.sleep(0.2)


# ---------------------------------------------------------------- batching


def test_scorer_batches_in_order_and_matches_unbatched(tiny_rm):
    pairs = _pairs(37)
    batched = RewardModelScorer(tiny_rm, batch_size=16)
    scores = batched.score(pairs)
    assert batched.forward_calls == 3 and len(scores) == 37
    one_by_one = RewardModelScorer(tiny_rm, batch_size=1)
    assert one_by_one.score(pairs) == pytest.approx(scores, abs=1e-5)
    assert one_by_one.forward_calls == 37


@pytest.mark.slow
def test_actor_batches_like_the_in_process_scorer(tiny_rm, ray_cluster):
    pairs = _pairs(37)
    server = start_reward_model_server(tiny_rm, batch_size=16)
    try:
        remote = ray_cluster.get(server.score.remote(pairs), timeout=120)
        assert ray_cluster.get(server.forward_calls.remote()) == 3
    finally:
        ray_cluster.kill(server, no_restart=True)
    assert remote == pytest.approx(RewardModelScorer(tiny_rm, batch_size=5).score(pairs), abs=1e-5)


# ---------------------------------------------------------------- the tiny RM


def test_preference_pairs_reject_what_the_checker_rejects():
    checker = get_verifier("instructions")
    triples = preference_triples(24, seed=3)
    for task, chosen, rejected in triples:
        assert checker.verify(chosen, task.payload).correct
        assert not checker.verify(rejected, task.payload).correct
    rows = preference_pairs(24, seed=3)
    assert rows == preference_pairs(24, seed=3) and len(rows) == 24
    assert rows[0]["prompt"] == triples[0][0].prompt and rows[0]["rejected"][0]["content"] == triples[0][2]


@pytest.mark.slow
def test_tiny_rm_build_is_deterministic_and_cached(tmp_path):
    a = build_tiny_reward_model(tmp_path / "a", steps=3, num_pairs=24)
    b = build_tiny_reward_model(tmp_path / "b", steps=3, num_pairs=24)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    stamp = (a / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_reward_model(a, steps=50) == a  # an existing checkpoint is reused, not retrained
    assert (a / "model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch dirs left behind


@pytest.mark.slow
def test_tiny_rm_prefers_chosen_on_held_out_pairs(tiny_rm):
    held_out = preference_pairs(80, seed=1)  # the RM trained on seed 0's pairs
    scorer = RewardModelScorer(tiny_rm, batch_size=32)
    chosen = scorer.score([(p["prompt"], p["chosen"][0]["content"]) for p in held_out])
    rejected = scorer.score([(p["prompt"], p["rejected"][0]["content"]) for p in held_out])
    wins = sum(c > r for c, r in zip(chosen, rejected)) / len(held_out)
    assert wins > 0.6, wins


# ---------------------------------------------------------------- chat prompts


def test_chat_env_is_deterministic_and_unchecked():
    env = get_env("chat/prompts")
    task = env.sample(5)
    assert task == env.sample(5) and task.verifier == "none" and task.env_id == "chat/prompts"
    assert {env.sample(s).prompt_text() for s in range(20)} != {task.prompt_text()}
    verdict = get_verifier("none").verify("anything at all", task.payload)
    assert verdict.correct and verdict.reward == 1.0
