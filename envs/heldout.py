"""The run's held-out split: which tasks only evaluation may see.

A task belongs to the held-out split when a salted hash of its *identity* falls below the
split's fraction. Identity is what makes two tasks "the same problem" whatever seed drew
them: a code problem's id (so the auxiliary tasks built on a held-out problem are held out
too), an instruction prompt's base prompt (shared with ``chat/prompts``), an RSA
aggregation's base task, else the prompt text itself. Training streams reject held-out
tasks and evaluations keep only them, so the two can never overlap, for any environment.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from envs.task import Task


def heldout_key(task: Task) -> str:
    """The identity the split hashes: same problem, same key, whatever the seed."""
    meta = task.meta or {}
    if "heldout_key" in meta:
        return str(meta["heldout_key"])
    if "problem_id" in meta:
        return f"problem:{meta['problem_id']}"
    if "base_prompt" in meta:
        return f"prompt:{meta['base_prompt']}"
    return f"prompt:{task.prompt_text()}"


@dataclass(frozen=True)
class HeldOutSplit:
    """``fraction`` of all task identities, chosen by a crc32 hash salted with ``salt``."""

    fraction: float = 0.2
    salt: str = "zaya-cascade"

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"held-out fraction must be in (0, 1), got {self.fraction}")

    def is_heldout(self, task: Task) -> bool:
        digest = zlib.crc32(f"{self.salt}|{heldout_key(task)}".encode())
        return digest % 10_000 < self.fraction * 10_000
