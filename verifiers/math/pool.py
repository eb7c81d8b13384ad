"""A small pool of killable worker processes with per-call deadlines.

Workers are plain subprocesses (not multiprocessing children), so the pool works
from threads, from Ray actors and from daemonic processes alike, and a worker stuck
in sympy is simply killed and replaced. One pool per (process, size, memory limit).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class WorkerCrash(Exception):
    """The worker died or could not start."""


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "verifiers.math.worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.buf = b""
        self.ready = False

    def _readline(self, deadline: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerCrash("worker exited")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def request(self, req: dict[str, Any], timeout_s: float, startup_s: float) -> dict[str, Any]:
        if not self.ready:
            if self._readline(time.monotonic() + startup_s) is None:
                raise WorkerCrash("worker did not start in time")
            self.ready = True
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise WorkerCrash("worker pipe closed") from exc
        line = self._readline(time.monotonic() + timeout_s)
        if line is None:
            raise WorkerTimeout()
        return json.loads(line)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort on a dying process
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f and f.close()
            except Exception:  # noqa: BLE001
                pass


class WorkerPool:
    """``size`` lazily started workers; ``run`` borrows one for one request."""

    def __init__(self, size: int = 2, memory_mb: int = 1536) -> None:
        self.memory_mb = memory_mb
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(max(1, size)):
            self._idle.put(None)
        self._live: set[_Worker] = set()
        self._lock = threading.Lock()

    def _spawn(self) -> _Worker:
        w = _Worker(self.memory_mb)
        with self._lock:
            self._live.add(w)
        return w

    def _discard(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            self._live.discard(w)

    def run(self, req: dict[str, Any], timeout_s: float, startup_s: float = 30.0, wait_s: float = 60.0) -> dict[str, Any]:
        """Send ``req`` to a worker; raise WorkerTimeout / WorkerCrash (worker replaced)."""
        try:
            w = self._idle.get(timeout=wait_s)
        except queue.Empty as exc:
            raise WorkerTimeout("no free worker") from exc
        try:
            if w is None:
                w = self._spawn()
            return w.request(req, timeout_s, startup_s)
        except (WorkerTimeout, WorkerCrash, OSError, ValueError):
            if w is not None:
                self._discard(w)
            w = None
            try:
                w = self._spawn()  # start the replacement now so it warms up in the background
            except OSError:
                pass
            raise
        finally:
            self._idle.put(w)

    def warm(self, startup_s: float = 30.0) -> None:
        """Start every worker and wait until each has imported sympy."""
        borrowed = [self._idle.get() for _ in range(self._idle.qsize())]
        try:
            borrowed = [w or self._spawn() for w in borrowed]
            for w in borrowed:
                if not w.ready:
                    w.ready = w._readline(time.monotonic() + startup_s) is not None
        finally:
            for w in borrowed:
                self._idle.put(w)

    def close(self) -> None:
        with self._lock:
            live = list(self._live)
            self._live.clear()
        for w in live:
            w.kill()


_POOLS: dict[tuple[int, int, int], WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(size: int = 2, memory_mb: int = 1536) -> WorkerPool:
    """The shared pool for this process (a forked child gets its own)."""
    key = (os.getpid(), size, memory_mb)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = WorkerPool(size, memory_mb)
        return _POOLS[key]


@atexit.register
def _close_all() -> None:
    for (pid, _, _), pool in list(_POOLS.items()):
        if pid == os.getpid():
            pool.close()
