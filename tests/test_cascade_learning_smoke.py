"""The cascade learning benchmark runs end to end (2 steps per stage), so the script cannot rot.

The learning claim itself lives in benchmarks/cascade_learning.py and its README section.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_smoke_run_reports_every_number(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cascade_learning.py"), "--smoke", "--seeds", "0",
         "--run-root", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert set(out["stages"]) == {"reasoning_warmup", "rlve_curriculum", "math_code_rl", "behavioral_rl"}
    for entry in out["stages"].values():
        assert len(entry["deltas"]) == 1 and entry["ci95"][0] <= entry["ci95"][1]
        assert entry["deltas"][0] == pytest.approx(entry["after"][0] - entry["before"][0], abs=1e-4)
        assert 0.0 <= entry["forgetting"][0] <= out["max_forgetting"]
    assert out["matrix"]["checkpoints"] == ["initial", "sft", *out["stages"]]
    assert 0.0 <= out["max_forgetting"] <= 1.0 and out["wall_s"] > 0
