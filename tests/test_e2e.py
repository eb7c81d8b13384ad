"""The tiny cascade end to end through the CLI, with Ray local: run, resume, one stage alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

pytestmark = pytest.mark.slow
STAGES = ["sft", "reasoning_warmup", "rlve_curriculum", "math_code_rl", "behavioral_rl"]
# Reasons only a real verifier produces (a stubbed reward would log none of these).
VERIFIER_REASONS = {"correct", "wrong_answer", "no_answer", "hedged", "no_code", "bad_format", "constraint_failed"}


# keep_checkpoints: the resume test restarts a copy of the tiny run from behavioral_rl's checkpoint-2.
# 60 SFT steps instead of 150: what these tests check needs no trained policy (CI time)
TINY_RUN_SETS = ("--set", "keep_checkpoints=true", "--set", "stages.sft.trainer.max_steps=60")


def cascade(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cascade.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, request):
    root = Path(request.config.rootdir)
    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    proc = cascade("run", str(root / "configs" / "tiny.yaml"), "--set", f"run_dir={run_dir}", *TINY_RUN_SETS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root, run_dir, proc


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_every_stage_is_done_with_a_loadable_checkpoint(tiny_run):
    _, run_dir, proc = tiny_run
    stages = manifest(run_dir)["stages"]
    assert list(stages) == STAGES
    for name in STAGES:
        entry = stages[name]
        assert entry["status"] == "done", (name, entry)
        assert entry["steps"] > 0 and entry["wall_s"] > 0
        model = AutoModelForCausalLM.from_pretrained(entry["checkpoint"])
        assert type(model).__name__ == "ZayaForCausalLM"
    # each stage started from the previous stage's checkpoint
    for before, after in zip(STAGES, STAGES[1:]):
        assert stages[after]["init_checkpoint"] == stages[before]["checkpoint"]
    assert "cascade summary" in proc.stdout
    # no terminal: plain progress lines from the metrics files, no ANSI codes, no worker output
    assert "\x1b[" not in proc.stderr and "[2/5] reasoning_warmup: step 2/2" in proc.stderr
    assert "(stage:" not in proc.stderr and "{'loss'" not in proc.stderr
    assert all((run_dir / name / "log.txt").is_file() for name in STAGES)
    for name in STAGES[1:]:  # the recipe in effect, as logged at stage start (tiny.yaml: DPPO on-policy, allowed)
        recipe = stages[name]["recipe"]
        assert recipe["router_replay"]["active"] and not recipe["dppo"]["active"], (name, recipe)
    assert (run_dir / "config.yaml").is_file() and (run_dir / "report.md").is_file()


def test_rl_rewards_come_from_real_verifiers(tiny_run):
    _, run_dir, _ = tiny_run
    for name in STAGES[1:]:
        records = [json.loads(line) for line in (run_dir / name / "metrics.jsonl").read_text().splitlines()]
        steps = [r for r in records if "reward" in r]
        assert steps, f"{name} logged no reward"
        assert all(0.0 <= r["reward"] <= 1.0 for r in steps)
        reasons = {k.rsplit("/", 1)[-1] for r in steps for k in r if "/reason/" in k}
        assert reasons & VERIFIER_REASONS, (name, reasons)


def test_sft_bootstrap_lowers_the_loss(tiny_run):
    _, run_dir, _ = tiny_run
    sft = manifest(run_dir)["stages"]["sft"]
    assert sft["metric"] == "loss" and sft["end"] < sft["start"]


def test_rerun_redoes_nothing(tiny_run):
    root, run_dir, _ = tiny_run
    before = manifest(run_dir)["stages"]
    mtimes = {n: Path(before[n]["checkpoint"], "model.safetensors").stat().st_mtime for n in STAGES}
    evals_mtime = (run_dir / "evals.json").stat().st_mtime_ns
    proc = cascade("run", str(root / "configs" / "tiny.yaml"), "--set", f"run_dir={run_dir}", *TINY_RUN_SETS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stderr.count("done already, skipped") == len(STAGES)
    after = manifest(run_dir)["stages"]
    assert after == before
    assert (run_dir / "evals.json").stat().st_mtime_ns == evals_mtime  # every eval came from the cache
    assert mtimes == {n: Path(after[n]["checkpoint"], "model.safetensors").stat().st_mtime for n in STAGES}


def test_stage_command_resumes_an_interrupted_stage_from_its_checkpoint(tiny_run, tmp_path):
    root, run_dir, _ = tiny_run
    sft_ckpt = manifest(run_dir)["stages"]["sft"]["checkpoint"]
    # A copy of the run, as a kill after behavioral_rl saved checkpoint-2 but before it finished leaves it
    # (a real kill -9 of the driver: tests/test_crash_safety.py)
    other = tmp_path / "one"
    shutil.copytree(run_dir, other)
    shutil.rmtree(other / "behavioral_rl" / "final")
    data = manifest(other)
    data["stages"]["behavioral_rl"]["status"] = "running"
    (other / "manifest.json").write_text(json.dumps(data))
    proc = cascade("stage", str(root / "configs" / "tiny.yaml"), "behavioral_rl", "--init", sft_ckpt,
                   "--set", f"run_dir={other}", "--set", "stages.behavioral_rl.trainer.max_steps=3")
    assert proc.returncode == 0, proc.stderr[-4000:]
    after = manifest(other)["stages"]
    entry = after["behavioral_rl"]
    assert entry["status"] == "done" and entry["init_checkpoint"] == sft_ckpt
    assert entry["resumed_from"].endswith("checkpoint-2") and entry["steps"] == 3
    assert Path(entry["checkpoint"]).is_relative_to(other)
    assert {n: after[n] for n in STAGES[:-1]} == {n: data["stages"][n] for n in STAGES[:-1]}  # one stage only


def test_rlve_difficulty_moves_in_the_tiny_cascade(tiny_run):
    _, run_dir, _ = tiny_run
    records = [json.loads(line) for line in (run_dir / "rlve_curriculum" / "metrics.jsonl").read_text().splitlines()]
    difficulties = {k: r[k] for r in records for k in r if k.startswith("curriculum/rlve/") and k.endswith("/difficulty")}
    assert difficulties, "the rlve stage logged no per-environment difficulty"
    assert any(d != 3 for d in difficulties.values()), difficulties  # configs/tiny.yaml starts every env at 3
    saved = json.loads((run_dir / "rlve_curriculum" / "task_stream.json").read_text())
    assert saved["curriculum"] is not None


def test_every_rl_stage_is_scored_before_and_after_and_the_matrix_is_full(tiny_run):
    root, run_dir, _ = tiny_run
    data = manifest(run_dir)
    for name in STAGES[1:]:
        ev = data["stages"][name]["eval"]
        assert 0.0 <= ev["before"]["pass@1"] <= 1.0 and 0.0 <= ev["after"]["pass@1"] <= 1.0
        assert ev["delta"]["pass@1"] == pytest.approx(ev["after"]["pass@1"] - ev["before"]["pass@1"])
        assert ev["envs"], name  # per-environment rows of the held-out tasks
    matrix = data["eval_matrix"]
    assert matrix["checkpoints"] == ["initial", *STAGES] and matrix["suites"] == STAGES[1:]
    for before, name in zip(STAGES, STAGES[1:]):  # diagonal = the stage's "after", the row above = its "before"
        assert matrix["values"][name][name] == data["stages"][name]["eval"]["after"]["pass@1"]
        assert matrix["values"][name][before] == data["stages"][name]["eval"]["before"]["pass@1"]
    proc = cascade("eval-matrix", str(run_dir), "--json")  # on demand: every cell from the cache
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert json.loads(proc.stdout) == matrix
