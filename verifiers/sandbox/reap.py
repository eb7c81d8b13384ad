"""Ending sandboxed runs: wait without reaping, kill the tree in the right order, sweep.

Kept apart from the runner because getting this order wrong leaves zombies or
survivors on the host, which is what the adversarial tests check for.
"""

from __future__ import annotations

import re
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


_CHILD_PID = re.compile(rb'"child-pid":\s*(\d+)')


def inner_pid(info_r: int | None, seen: bytearray) -> int | None:
    """The sandbox init's host pid, from bwrap's --info-fd. bwrap writes that JSON in
    several writes, so what was read before is kept in ``seen`` and searched again."""
    if info_r is None:
        return None
    os.set_blocking(info_r, False)
    try:
        seen += os.read(info_r, 4096)
    except OSError:
        pass
    match = _CHILD_PID.search(seen)
    return int(match.group(1)) if match else None


_SUBREAPER: list[bool] = []


def become_subreaper() -> None:
    """Adopt this process's orphaned descendants (PR_SET_CHILD_SUBREAPER).

    bwrap's init, pid 1 of the sandbox's namespace, exits just after the outer bwrap
    process; without this it is re-parented to the host's pid 1, which in containers may
    never reap it. Adopted here, ``reap_adopted`` collects it by pid.
    """
    if not _SUBREAPER:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
        _SUBREAPER.append(True)


def reap_adopted(pid: int | None, deadline: float) -> float:
    """Reap the adopted sandbox init ``pid`` (it exits right after the program); return the
    CPU seconds of its tree, which the outer bwrap's own usage no longer includes."""
    if pid is None:
        return 0.0
    delay = 0.0005
    while True:
        try:
            done, _, usage = os.wait4(pid, os.WNOHANG)
            if done:
                return usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            return 0.0  # already reaped by bwrap, so counted in its usage
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = float("inf")
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


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
