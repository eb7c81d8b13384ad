"""Ending sandboxed runs: wait without reaping, kill the tree in the right order, sweep.

Kept apart from the runner because getting this order wrong leaves zombies or
survivors on the host, which is what the adversarial tests check for.
"""

from __future__ import annotations

import json
import os
import signal
import time


def wait_until(pid: int, deadline: float) -> bool:
    """Poll (without reaping) until ``pid`` has exited; False when the deadline passes."""
    delay = 0.0005
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
    return False


def kill_tree(pid: int, inner: int | None) -> None:
    """Kill the sandbox's init (its pid namespace dies with it), then bwrap.

    Killing the inner pid first lets bwrap reap it; killing bwrap first would orphan
    it to the host's pid 1, which in containers may never reap the zombie.
    """
    if inner is not None:
        try:
            os.kill(inner, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if wait_until(pid, time.monotonic() + 1.0):
            return
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def inner_pid(info_r: int | None) -> int | None:
    """The sandbox init's host pid, from bwrap's --info-fd (read once: it is a pipe)."""
    if info_r is None:
        return None
    os.set_blocking(info_r, False)
    try:
        data = os.read(info_r, 4096)
        return int(json.loads(data.decode())["child-pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sweep_uid(uid: int) -> None:
    """Kill any process still running as this run's host uid (defence in depth)."""
    for _ in range(3):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        if not found:
            return
        time.sleep(0.01)
