"""Dynamic-sampling refill with two processes (CPU, gloo): global detection, lockstep refill, local splicing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_refill_is_global_and_consistent_on_two_ranks(tmp_path):
    port, procs = _free_port(), []
    for rank in range(2):
        env = {
            **os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
        }
        cmd = [sys.executable, str(ROOT / "tests" / "refill_worker.py"), str(tmp_path / f"rank{rank}.json")]
        procs.append(subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out.decode()[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["world"] == r1["world"] == 2

    # 3 of the 4 global groups have zero spread (rank 0 misses one, rank 1 two): one lockstep round of
    # 2 groups per rank fills all of them; every rank logs the same global numbers
    for r in (r0, r1):
        m = r["filled"]["metrics"]
        assert m["dynamic_sampling/dropped_frac"] == [0.75]
        assert m["dynamic_sampling/refills"] == [1.0] and m["dynamic_sampling/unfilled_frac"] == [0.0]
        assert r["filled"]["rows"] == 8 and all(r["filled"]["loss_rows"])
        assert all(a != 0 for a in r["filled"]["advantages"])  # every group now has spread
    p0, p1 = r0["filled"]["prompts"], r1["filled"]["prompts"]
    assert all("task 1" in p for p in p0[4:])  # rank 0's good group stays where it was
    assert len({p0[0], p1[0], p1[4]}) == 3  # ranks refill from disjoint prompts
    assert "task 0" not in p0[0] and "task 2" not in p1[0] and "task 4" not in p1[4]
    assert r0["filled"]["num_items_in_batch"] == r1["filled"]["num_items_in_batch"]
    assert r0["filled"]["num_items_in_batch"] == r0["filled"]["local_items"] + r1["filled"]["local_items"]

    # refills that only bring zero-spread groups: the cap is reached, the 3 groups stay masked on their ranks
    for r in (r0, r1):
        m = r["unfilled"]["metrics"]
        assert m["dynamic_sampling/refills"] == [2.0] and m["dynamic_sampling/unfilled_frac"] == [0.75]
    assert r0["unfilled"]["loss_rows"] == [False] * 4 + [True] * 4
    assert r1["unfilled"]["loss_rows"] == [False] * 8 and r1["unfilled"]["local_items"] == 0
    assert r0["unfilled"]["num_items_in_batch"] == r1["unfilled"]["num_items_in_batch"] == r0["unfilled"]["local_items"]
