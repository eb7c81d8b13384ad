"""run_dir/driver.json: a live driver keeps a second one out; a dead one's orphaned Ray workers are stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cascade.config import ConfigError
from cascade.run_owner import RECORD, record_owner, release, take_over

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _dead_process() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, created


def _record(run_dir: Path, pid: int, created: float, raylets: list) -> None:
    (run_dir / RECORD).write_text(json.dumps({"pid": pid, "created": created, "raylets": raylets}))


def test_a_live_driver_keeps_a_second_one_out(tmp_path):
    other = subprocess.Popen(SLEEPER)
    try:
        _record(tmp_path, other.pid, psutil.Process(other.pid).create_time(), [])
        with pytest.raises(ConfigError, match=f"in use by a running cascade driver \\(pid {other.pid}\\)"):
            take_over(tmp_path, print)
    finally:
        other.kill()
        other.wait()
    take_over(tmp_path, print)  # the same record once that driver is gone: taken over


ZOMBIES: list[subprocess.Popen] = []  # referenced, so subprocess never reaps them behind the test's back


def _zombie_process() -> tuple[int, float]:
    """Killed and never reaped, as a raylet whose parent (the killed driver) cannot reap it."""
    proc = subprocess.Popen(SLEEPER)
    ZOMBIES.append(proc)
    created = psutil.Process(proc.pid).create_time()
    os.kill(proc.pid, signal.SIGKILL)
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    return proc.pid, created


@pytest.mark.parametrize("dead_raylet", [_dead_process, _zombie_process], ids=["reaped", "zombie"])
def test_a_dead_drivers_orphaned_workers_are_stopped_and_nothing_else(tmp_path, dead_raylet):
    driver_pid, driver_created = _dead_process()
    raylet_pid, raylet_created = dead_raylet()
    orphan = subprocess.Popen(SLEEPER, env={**os.environ, "RAY_RAYLET_PID": str(raylet_pid)})
    bystander = subprocess.Popen(SLEEPER, env={**os.environ, "RAY_RAYLET_PID": str(os.getpid())})  # a live raylet's
    notes: list[str] = []
    try:
        _record(tmp_path, driver_pid, driver_created - 5, [[raylet_pid, raylet_created]])
        take_over(tmp_path, notes.append)
        assert dead_raylet is _dead_process or psutil.Process(raylet_pid).status() == psutil.STATUS_ZOMBIE
        assert orphan.wait(timeout=10) == -9
        assert bystander.poll() is None
        assert notes == [f"  stopped 1 Ray worker(s) left running by the killed driver (pid {driver_pid})"]
    finally:
        for proc in (orphan, bystander):
            proc.kill()
            proc.wait()


def test_a_pid_reused_by_another_process_is_not_the_recorded_driver(tmp_path):
    me = psutil.Process()
    _record(tmp_path, os.getppid(), me.create_time() + 1000, [])  # a live pid, but not started then
    take_over(tmp_path, print)


def test_the_record_names_this_driver_and_is_removed_when_it_ends(tmp_path):
    record_owner(tmp_path)
    data = json.loads((tmp_path / RECORD).read_text())
    assert data["pid"] == os.getpid() and abs(data["created"] - psutil.Process().create_time()) < 1e-6
    take_over(tmp_path, print)  # this very driver again (an in-process rerun): not refused
    release(tmp_path)
    assert not (tmp_path / RECORD).exists()


def test_a_torn_record_is_ignored(tmp_path):
    (tmp_path / RECORD).write_text('{"pid": 12')
    take_over(tmp_path, print)
