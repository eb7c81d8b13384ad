"""Rollout engines on a 2-worker stage (Ray Train, gloo): rank 0 owns the engines, each rank trains its rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GROUP = 4
RUNS = [  # one Ray Train job runs both (a job start-up costs more than the training here)
    # a large step at low temperature moves the policy enough for DPPO's 0.1 trust region to bite
    {"generation": {"max_staleness": 2},
     "trainer": {"max_steps": 4, "temperature": 0.2, "learning_rate": 5e-2, "trust_region": "dppo_binary_tv", "dppo_delta": 0.1}},
    {"generation": {"max_staleness": 0}, "trainer": {"max_steps": 2}},
]


@pytest.fixture(scope="module")
def ranks(ray_cluster, tmp_path_factory) -> list[list[dict]]:
    """Per run, both ranks' records."""
    import ray.cloudpickle
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    import distributed_worker
    import engine_helpers

    from cascade.reward_model import build_tiny_reward_model, default_cache_dir

    for module in (distributed_worker, engine_helpers):
        ray.cloudpickle.register_pickle_by_value(module)
    out = tmp_path_factory.mktemp("engines")
    rm_path = str(build_tiny_reward_model(default_cache_dir(0)))
    runs = [{"generation": {"backend": "hf", "num_cpus": 0, **r["generation"]},
             "trainer": {"per_device_train_batch_size": GROUP, "num_generations": GROUP, **r["trainer"]}} for r in RUNS]
    TorchTrainer(
        distributed_worker.engine_worker,
        train_loop_config={"out": str(out), "make_trainer": engine_helpers.make_trainer, "runs": runs, "rm_path": rm_path},
        scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(name="engines", storage_path=str(Path(out) / "ray")),
    ).fit()
    runs = [[json.loads((out / f"{i}-rank{r}.json").read_text()) for r in range(2)] for i in range(len(RUNS))]
    return runs + [[json.loads((out / f"rm-rank{r}.json").read_text()) for r in range(2)]]


def test_two_workers_share_rank0s_engines_with_bounded_staleness(ranks):
    r0, r1 = ranks[0]
    assert (r0["owner"], r1["owner"]) == (True, False) and r0["steps"] == r1["steps"] == 4
    # each step, each rank trained one whole buffered group, and the two ranks' groups differ
    n = len(r0["prompt_ids"])
    assert n == len(r1["prompt_ids"]) == 4 * GROUP
    for s in range(0, n, GROUP):
        mine, theirs = r0["prompt_ids"][s : s + GROUP], r1["prompt_ids"][s : s + GROUP]
        assert all(p == mine[0] for p in mine) and all(p == theirs[0] for p in theirs) and mine[0] != theirs[0]
    lags = r0["lags"] + r1["lags"]
    assert max(lags) <= 2 and {1, 2} & set(lags)
    assert max(r0["versions"] + r1["versions"]) > 0  # weights reached the engine from rank 0
    # every rank logs the staleness of the whole global batch; rank 0 alone has the engine metrics
    assert [h["generation/staleness_max"] for h in r0["logs"]] == [h["generation/staleness_max"] for h in r1["logs"]]
    assert "generation/buffer_fill" in r0["logs"][-1] and "generation/buffer_fill" not in r1["logs"][-1]
    assert max(h["dppo/masked_frac"] for h in r0["logs"]) > 0


def test_the_pass_rate_filter_samples_on_rank0s_engines_and_both_ranks_agree(ranks):
    r0, r1 = ranks[0]
    assert (r0["filter"]["has_sampler"], r1["filter"]["has_sampler"]) == (True, False)
    assert r0["filter"]["engine_calls"] >= 1  # the stage's engine actor served the candidates
    assert r0["filter"]["stats"] == r1["filter"]["stats"] and r0["filter"]["stats"]["candidates"] == 3


def test_two_workers_on_policy_each_get_their_own_prompts(ranks):
    r0, r1 = ranks[1]
    assert r0["steps"] == r1["steps"] == 2
    assert set(r0["lags"] + r1["lags"]) == {0}
    # TRL gave each rank different prompts; each got its own completions back, not rank 0's
    assert r0["prompt_ids"] != r1["prompt_ids"]
    assert len({tuple(p) for p in r1["prompt_ids"]}) >= 2
    # and its own rows' routes: on-policy, the trainer's forward replays the engine's experts where it
    # would choose them itself (another row's routes would flip most tokens)
    for r in (r0, r1):
        assert all("router/replay_unaligned" not in h for h in r["logs"])
        assert max(h["router/replay_flip_frac"] for h in r["logs"]) < 0.05, r["logs"]


def test_the_ranks_share_one_reward_model_actor(ranks):
    r0, r1 = ranks[-1]
    assert r0["actor"] == r1["actor"]  # one model for the stage, not one per rank
    assert r0["scores"] == r1["scores"] and len(r0["scores"]) == 2
