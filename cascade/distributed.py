"""Rank facts and the one collective the stage code needs, over torch.distributed.

Inside a Ray Train worker the process group is already up (Ray Train's TorchTrainer starts
it: gloo on CPU, NCCL on GPU); in a plain single process there is none and every helper
degrades to the one-process answer. Accelerate and TRL use the same process group.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if _initialized() else 1


def rank() -> int:
    return dist.get_rank() if _initialized() else 0


def is_main() -> bool:
    """Rank 0 owns the stage's files (metrics, filter cache, task stream, final checkpoint)."""
    return rank() == 0


def all_gather_list(local: list[T]) -> list[T]:
    """Every rank's ``local`` items concatenated in rank order, on every rank.

    Rank order is the order accelerate shards a batch in, so the result is the global batch.
    Picklable objects only; a collective: every rank must call it the same number of times.
    """
    if world_size() == 1:
        return list(local)
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, list(local))
    return [item for part in parts for item in part]


def scatter_from_main(parts: list[T] | None) -> T:
    """Rank 0's ``parts[r]`` on rank ``r`` (``parts`` is read on rank 0 only): how the rank that owns
    the rollout engines hands every rank its own rows. A collective, like ``all_gather_list``."""
    if world_size() == 1:
        return parts[0]  # type: ignore[index]
    out: list[Any] = [None]
    dist.scatter_object_list(out, list(parts) if is_main() else None, src=0)  # type: ignore[arg-type]
    return out[0]


def broadcast_from_main(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (a collective): state one rank computed, that all must share."""
    if world_size() == 1:
        return obj
    box: list[Any] = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def local_device() -> torch.device:
    """This worker's device: the GPU Ray Train assigned (``ACCELERATE_TORCH_DEVICE``), else CPU."""
    name = os.environ.get("ACCELERATE_TORCH_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")
