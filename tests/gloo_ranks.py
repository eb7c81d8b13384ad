"""CPU ranks joined by gloo, for tests of sharded (FSDP2 / DTensor) code without Ray Train.

The ranks come from a fork server that has imported torch and the project code once (a spawned
rank re-imports them for ~15 s each). Never a plain fork of the test process: once that process
has driven a Ray Train job, a fork of it broke its Ray connection (later actor calls from pytest
hung). ``body`` must be a module-level function (it is pickled by name). One torch thread per rank;
a 60 s collective timeout turns a rank that skips a collective into a failure instead of a hang.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh


def _rank(rank: int, world: int, port: int, body: Callable[[int, DeviceMesh], Any], results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        results[rank] = body(rank, init_device_mesh("cpu", (world,)))
    finally:
        dist.destroy_process_group()


PRELOAD = ["torch", "torch.distributed.fsdp", "transformers", "cascade.policy", "cascade.recipe"]


def run_ranks(body: Callable[[int, DeviceMesh], Any], world: int = 2) -> dict[int, Any]:
    """``body(rank, mesh)`` on ``world`` ranks forked from a clean fork server; results by rank."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with context.Manager() as manager:
        results = manager.dict()
        mp.start_processes(_rank, args=(world, port, body, results), nprocs=world, start_method="forkserver")
        return dict(results)
