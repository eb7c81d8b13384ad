"""One driver per run directory, and nothing left running by a driver that was killed.

The driver records itself in ``run_dir/driver.json``: its pid and start time and, once it has
started its own Ray cluster, the raylet's. A second driver on a live run exits 2 instead of
interleaving writes to one manifest. A driver that finds the record of a dead one first kills the
Ray workers that outlived it: Ray starts every worker in a process group of its own, so a
``kill -9`` of the driver's group misses them, and under load a worker can take minutes to notice
that its raylet is gone (CI saw one ``ray::IDLE`` survive more than 3 minutes).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from cascade.config import ConfigError

RECORD = "driver.json"


def _started(pid: int) -> float | None:
    """Start time of a running ``pid``; None once it is gone or a zombie (a killed raylet whose
    parent, the killed driver, can no longer reap it stays a zombie until init does)."""
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _alive(pid: int, created: float) -> bool:
    """Same pid and same start time: the recorded process itself, not a later one reusing its pid."""
    started = _started(pid)
    return started is not None and abs(started - created) < 1.0


def _read(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None  # none, or torn by a kill mid-write: nothing to refuse on


def orphans(record: dict[str, Any]) -> list[psutil.Process]:
    """Ray workers of the recorded driver's cluster whose raylet has died (their env names it)."""
    raylets = {str(pid) for pid, created in record.get("raylets", []) if not _alive(pid, created)}
    if not raylets:
        return []
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.create_time() >= record["created"] - 1 and proc.environ().get("RAY_RAYLET_PID") in raylets:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def take_over(run_dir: Path, notify: Callable[[str], None]) -> None:
    """ConfigError if a live driver owns ``run_dir``; else kill what a dead owner left running."""
    record = _read(run_dir)
    if record is None:
        return
    if record["pid"] != os.getpid() and _alive(record["pid"], record["created"]):
        raise ConfigError(f"{run_dir} is in use by a running cascade driver (pid {record['pid']}); "
                          "wait for it to finish or stop it first")
    left = orphans(record)
    for proc in left:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    if left:
        notify(f"  stopped {len(left)} Ray worker(s) left running by the killed driver (pid {record['pid']})")


def record_owner(run_dir: Path) -> None:
    """Write this driver, and the raylets it started (none when it joined a cluster), to the record."""
    me = psutil.Process()
    raylets = [[c.pid, c.create_time()] for c in me.children() if c.name() == "raylet"]
    data = {"pid": me.pid, "created": me.create_time(), "raylets": raylets}
    tmp = run_dir / f"{RECORD}.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, run_dir / RECORD)


def release(run_dir: Path) -> None:
    """The run ended (finished or raised): the directory is free again."""
    record = _read(run_dir)
    if record is not None and record.get("pid") == os.getpid():
        (run_dir / RECORD).unlink(missing_ok=True)
