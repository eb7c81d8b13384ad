"""The leftover check of the sandbox tests: no process in a uid range outlives the test that ran it.

Each module passes the uid range its sandboxes run in (its own, so that sandboxes run at the same
time by tests on the other pytest-xdist worker are not counted).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager


def sandbox_pids(uid_base: int, uid_span: int) -> set[int]:
    """Pids (zombies too) whose uid lies in ``[uid_base, uid_base + uid_span)``."""
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if uid_base <= entry.stat().st_uid < uid_base + uid_span:
                    pids.add(int(entry.name))
            except FileNotFoundError:  # ended meanwhile
                continue
    return pids


@contextmanager
def no_sandbox_leftovers(uid_base: int, uid_span: int) -> Iterator[None]:
    before = sandbox_pids(uid_base, uid_span)
    yield
    time.sleep(0.05)
    assert sandbox_pids(uid_base, uid_span) - before == set(), "a sandboxed process (or zombie) outlived its run"
