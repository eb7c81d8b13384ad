"""Telling a slow program from a starved one when the wall-clock deadline passes.

The time limit is CPU time (RLIMIT_CPU, and ``cpu_s`` in the verdict); the wall deadline
only stops programs that sleep or block. On a loaded machine a CPU-bound program can
reach the wall deadline having used a fraction of its CPU budget: killing it then gives
a verdict that depends on the load, which is how verdicts were lost when held-out cases
were judged through many ``cascade verify`` processes at once. So at the deadline we
look at the sandboxed tree: while something in it is runnable and its CPU time is under
the limit, the deadline moves on, up to ``SandboxConfig.starved_wall_factor`` times the
normal one; a program still starved there is an infrastructure failure (retried, never
learned from), not a timeout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

_TICK = os.sysconf("SC_CLK_TCK")
STEP_S = 0.25


def _stat(pid: int) -> tuple[str, float] | None:
    """(state letter, CPU seconds of the process and its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return fields[0], sum(int(x) for x in fields[11:15]) / _TICK
    except (IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as fh:
            return [int(x) for x in fh.read().split()]
    except (OSError, ValueError):
        return []


def tree_usage(root: int) -> tuple[float, bool]:
    """CPU seconds used under ``root`` (itself and two levels of children) and whether any
    of them is runnable right now."""
    cpu, runnable = 0.0, False
    level = [root]
    for _ in range(3):
        nxt = []
        for pid in level:
            st = _stat(pid)
            if st is None:
                continue
            cpu += st[1]
            runnable = runnable or st[0] == "R"
            nxt += _children(pid)
        level = nxt
    return cpu, runnable


class Extension:
    """Decides, each time the wall deadline passes, whether to grant more wall time."""

    def __init__(self, root: Callable[[], int | None], cpu_limit_s: float, hard_deadline: float) -> None:
        self._root = root
        self.cpu_limit_s = cpu_limit_s
        self.hard_deadline = hard_deadline
        self.starved = False  # the last look found it runnable and under its CPU limit
        self.cpu_s = 0.0

    def __call__(self) -> float | None:
        """A new deadline, or None when the program has had its chance."""
        now = time.monotonic()
        root = self._root()
        if root is None:
            return None
        top = _stat(root)
        if top is None or top[0] in "ZX":  # finished just now: let its output drain
            return min(now + 0.05, self.hard_deadline) if now < self.hard_deadline else None
        self.cpu_s, runnable = tree_usage(root)
        if not runnable or self.cpu_s >= self.cpu_limit_s:
            self.starved = False  # sleeping or out of CPU budget: an honest timeout
            return None
        self.starved = True
        return min(now + STEP_S, self.hard_deadline) if now < self.hard_deadline else None
