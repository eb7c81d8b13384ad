"""kill -9 of the driver at several points of a tiny cascade, then a rerun: nothing finished is redone,
at most one save interval is lost, the manifest always parses, and no process of a killed run survives."""

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

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SAVE_EVERY = 10


def _args(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "cascade.cli", "run", str(ROOT / "configs" / "tiny.yaml"), "--set", f"run_dir={run_dir}",
            "--set", "stages.sft.trainer.max_steps=60", "--set", f"stages.sft.trainer.save_steps={SAVE_EVERY}",
            "--set", "stages.sft.keep_checkpoints=true", "--set", "eval_matrix=false", "--set", "evals.tiny.n_tasks=2",
            "--until", "reasoning_warmup"]  # two stages are enough to kill in and between; the rest only cost CI time


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())  # must always parse


def _kill_when(run_dir: Path, ready, timeout_s: float = 600) -> list[int]:
    """Start the driver in its own session, SIGKILL its whole group once ``ready()``; its process tree's pids."""
    proc = subprocess.Popen(_args(run_dir), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.5)
    tree = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return tree


def _checkpoints(run_dir: Path) -> list[int]:
    ckpts = run_dir / "sft" / "checkpoints"
    return sorted(int(p.name.split("-")[1]) for p in ckpts.glob("checkpoint-*")) if ckpts.is_dir() else []


def _status(run_dir: Path, stage: str) -> str | None:
    try:
        return _manifest(run_dir)["stages"].get(stage, {}).get("status")
    except (OSError, ValueError):
        return None


def test_kill_9_of_the_driver_at_several_points_then_a_rerun_loses_at_most_one_save(tmp_path):
    run_dir = tmp_path / "run"
    killed: list[int] = []
    # 1. during SFT, once its second checkpoint exists
    killed += _kill_when(run_dir, lambda: len(_checkpoints(run_dir)) >= 2)
    saved = max(_checkpoints(run_dir))
    assert _manifest(run_dir)["stages"]["sft"]["status"] == "running"
    # 2. the rerun resumes SFT from its last checkpoint; kill it again once the next stage runs
    killed += _kill_when(run_dir, lambda: _status(run_dir, "reasoning_warmup") == "running")
    sft = _manifest(run_dir)["stages"]["sft"]
    resumed = int(sft["resumed_from"].rsplit("-", 1)[1])
    assert sft["status"] == "done" and resumed >= saved - SAVE_EVERY  # at most one save interval lost (a torn last save)
    assert sft["steps"] == 60
    # 3. the last rerun finishes without redoing SFT
    proc = subprocess.run(_args(run_dir), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = _manifest(run_dir)
    assert [n for n, s in data["stages"].items() if s["status"] == "done"] == ["sft", "reasoning_warmup"]
    assert data["stages"]["sft"]["finished_at"] == sft["finished_at"]
    assert "sft: done already, skipped" in proc.stderr
    assert not (run_dir / "driver.json").exists()  # released by the driver that finished
    # no daemon or worker of the killed runs is left once the rerun has ended
    deadline = time.monotonic() + 20  # each rerun stopped the Ray workers its killed predecessor left (run_owner)
    while (alive := [p for p in killed if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]):
        assert time.monotonic() < deadline, [" ".join(psutil.Process(p).cmdline())[:120] for p in alive if psutil.pid_exists(p)]
        time.sleep(1)
