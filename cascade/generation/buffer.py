"""The bounded rollout buffer between engines and trainer (PipelineRL / TRL async GRPO style).

Finished groups wait here oldest first. The buffer holds at most ``capacity`` groups (a put into
a full buffer evicts the oldest); ``take`` hands out groups at most ``max_staleness`` weight
versions behind the trainer and drops (and counts) older ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cascade.generation.engine import Completion


@dataclass
class Group:
    """The ``n`` completions of one prompt; ``task`` is the Task JSON it came from (None when on-policy)."""

    prompt: Any
    completions: list[Completion]
    task: str | None = None
    verdicts: list[Any] | None = None  # set when the pipeline verified the group (cascade/generation/scoring.py)

    @property
    def version(self) -> int:
        return min(c.weight_version for c in self.completions)


@dataclass
class RolloutBuffer:
    capacity: int
    max_staleness: int
    groups: deque[Group] = field(default_factory=deque)
    dropped_stale: int = 0
    evicted: int = 0

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.max_staleness < 0:
            raise ValueError(f"buffer needs capacity >= 1 and max_staleness >= 0 (got {self.capacity}, {self.max_staleness})")

    def __len__(self) -> int:
        return len(self.groups)

    def put(self, group: Group) -> None:
        if len(self.groups) >= self.capacity:
            self.groups.popleft()
            self.evicted += 1
        self.groups.append(group)

    def drop_stale(self, current_version: int) -> int:
        """Remove groups more than ``max_staleness`` versions behind ``current_version``; how many went."""
        keep = deque(g for g in self.groups if current_version - g.version <= self.max_staleness)
        dropped = len(self.groups) - len(keep)
        self.groups, self.dropped_stale = keep, self.dropped_stale + dropped
        return dropped

    def take(self, n: int, current_version: int) -> list[Group]:
        """Up to ``n`` usable groups, oldest first (stale ones are dropped on the way)."""
        self.drop_stale(current_version)
        return [self.groups.popleft() for _ in range(min(n, len(self.groups)))]

    @property
    def fill(self) -> float:
        return len(self.groups) / self.capacity
