"""Limits and switches for one sandboxed run.

Kept apart from the runner so verifiers and environments can build, merge and
serialise limits without importing any process machinery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class SandboxConfig:
    """How hard one run is contained.

    ``allow_weak`` is the only way to run without bubblewrap: without it a missing
    or broken bwrap is a loud ``SandboxUnavailable`` error, never a silent downgrade.
    """

    time_limit_s: float = 4.0
    memory_limit_mb: int = 256
    # Wall-clock deadline = time_limit_s * wall_factor + wall_slack_s (covers start-up).
    wall_factor: float = 1.0
    wall_slack_s: float = 1.0
    # While the program is runnable and under its CPU limit (starved by a loaded machine),
    # the wall deadline stretches up to this multiple; still starved there is an infra error.
    starved_wall_factor: float = 4.0
    # Address space granted on top of memory_limit_mb: the interpreter's own mappings
    # and a 64 MiB recursion thread stack must fit.
    as_slack_mb: int = 96
    stdout_limit_bytes: int = 1 << 20
    stderr_limit_bytes: int = 64 << 10
    file_size_mb: int = 8
    tmpfs_mb: int = 16
    open_files: int = 64
    max_processes: int = 32
    python: str | None = None  # interpreter inside the sandbox; None = auto
    allow_weak: bool = False
    # Each run's processes get a fresh host uid from this range (root hosts only), so
    # RLIMIT_NPROC is enforced and a sweep can find every leftover.
    uid_base: int = 200_000
    uid_span: int = 60_000

    def with_limits(self, time_limit_s: Any = None, memory_limit_mb: Any = None) -> "SandboxConfig":
        """Apply a payload's optional per-problem limits (ignored when not positive numbers)."""
        changes: dict[str, Any] = {}
        if _positive(time_limit_s):
            changes["time_limit_s"] = min(float(time_limit_s), 60.0)
        if _positive(memory_limit_mb):
            changes["memory_limit_mb"] = int(min(float(memory_limit_mb), 8192))
        return replace(self, **changes) if changes else self

    @property
    def wall_deadline_s(self) -> float:
        return self.time_limit_s * self.wall_factor + self.wall_slack_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_options(cls, **options: Any) -> "SandboxConfig":
        known = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
