"""Engine weight sync from an FSDP2-sharded policy: every rank joins the gather, rank 0 gets the whole model."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from types import SimpleNamespace

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from cascade.generation.weights import WeightSyncCallback, is_sharded, policy_state_dict
from cascade.policy import build_tiny_policy


class _Producer:
    def __init__(self) -> None:
        self.pushed: list[tuple[dict, int]] = []

    def update_weights(self, state: dict, version: int) -> None:
        self.pushed.append((state, version))


def _rank(rank: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=60))  # a missed gather fails, not hangs
    try:
        model, _ = build_tiny_policy(seed=0)
        whole = policy_state_dict(model)
        mesh = init_device_mesh("cpu", (2,))
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        producer = _Producer() if rank == 0 else None
        # the callback on the rank without engines still enters the gather (else rank 0 would hang)
        WeightSyncCallback(producer, sync_every=1).on_step_end(None, SimpleNamespace(global_step=3), None, model=model)
        results[rank] = {
            "sharded": is_sharded(model),
            "pushed": None if producer is None else [(v, {k: torch.equal(t, whole[k]) for k, t in s.items()}, sorted(s) == sorted(whole))
                                                    for s, v in producer.pushed],
        }
    finally:
        dist.destroy_process_group()


def test_sharded_policy_is_gathered_whole_for_the_engines():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.start_processes(_rank, args=(port, results), nprocs=2, start_method="fork")  # forked: no re-import of torch & co.
    assert results[0]["sharded"] and results[1]["sharded"]
    ((version, equal, same_keys),) = results[0]["pushed"]
    assert version == 3 and same_keys and equal and all(equal.values())
    assert results[1]["pushed"] is None
