"""Engine weight sync from an FSDP2-sharded policy: every rank joins the gather, rank 0 gets the whole model."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch.distributed.fsdp import fully_shard

from cascade.generation.weights import WeightSyncCallback, is_sharded, policy_state_dict
from cascade.policy import build_tiny_policy
from gloo_ranks import run_ranks


class _Producer:
    def __init__(self) -> None:
        self.pushed: list[tuple[dict, int]] = []

    def update_weights(self, state: dict, version: int) -> None:
        self.pushed.append((state, version))


def _gather_for_the_engines(rank: int, mesh) -> dict:
    model, _ = build_tiny_policy(seed=0)
    whole = policy_state_dict(model)
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    producer = _Producer() if rank == 0 else None
    # the callback on the rank without engines still enters the gather (else rank 0 would time out)
    WeightSyncCallback(producer, sync_every=1).on_step_end(None, SimpleNamespace(global_step=3), None, model=model)
    pushed = None if producer is None else [(v, {k: torch.equal(t, whole[k]) for k, t in s.items()}, sorted(s) == sorted(whole))
                                            for s, v in producer.pushed]
    return {"sharded": is_sharded(model), "pushed": pushed}


def test_sharded_policy_is_gathered_whole_for_the_engines():
    results = run_ranks(_gather_for_the_engines)
    assert results[0]["sharded"] and results[1]["sharded"]
    ((version, equal, same_keys),) = results[0]["pushed"]
    assert version == 3 and same_keys and equal and all(equal.values())
    assert results[1]["pushed"] is None
