"""A built wheel, installed outside the repo, runs the shipped configs from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("zaya_cascade-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "zaya_cascade/configs/tiny.yaml" in names and "zaya_cascade/data/math/tiny_arith.jsonl" in names
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp / "site"), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    work = tmp / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp / "site"), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return work, env


def _cli(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cascade.cli", *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_installed_package_is_the_one_imported(installed):
    work, env = installed
    out = subprocess.run([sys.executable, "-c", "import cascade, envs.shipped as s; print(cascade.__file__, s.data_file())"],
                         cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in out and "site" in out


def test_a_shipped_config_runs_by_name_from_another_directory(installed):
    work, env = installed
    # SFT alone reads the shipped data file (data/math, resolved against the installed config)
    proc = _cli(work, env, "run", "tiny", "--until", "sft", "--set", f"run_dir={work / 'run'}",
                "--set", "stages.sft.trainer.max_steps=2", "--set", "stages.sft.num_tasks=16", "--set", "eval_matrix=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / "run" / "sft" / "final" / "config.json").is_file()


def test_eval_suite_runs_from_another_directory(installed):
    work, env = installed
    proc = _cli(work, env, "eval", "tiny", "--suite", "tiny", "--n-tasks", "1", "--n", "1", "--k", "1",
                "--max-new-tokens", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mean" in proc.stdout
