"""Stages on N Ray Train workers (gloo, CPU): training, rank-0 files, equivalence, resume, placement."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from cascade.config import CascadeConfig
from cascade.driver import run_cascade
from cascade.placement import UnplaceableStage

pytestmark = pytest.mark.slow


def stage_cfg(run_dir: Path, workers: int, filter: dict | None = None, **trainer) -> CascadeConfig:
    return CascadeConfig.model_validate(
        {
            "run_dir": str(run_dir),
            "seed": 0,
            "ray": {"verifier_workers": 1},
            "eval_matrix": False,  # evals are tested elsewhere; here they would only cost CI time
            "trainer": {
                "per_device_train_batch_size": 8 // workers,
                "num_generations": 4,
                "max_completion_length": 6,
                "max_steps": 2,
                "save_steps": 1,
                "learning_rate": 3e-4,
                "allow_inactive": ["dppo"],  # on-policy: DPPO's mask cannot act
                **trainer,
            },
            "stages": [
                {
                    "name": "rl",
                    "kind": "math_code_rl",
                    "envs": [{"id": "arith/add"}],
                    "curriculum": {"kind": "zaya", "options": {"initial_difficulty": 3}},
                    "trainer": {"dynamic_sampling": False},
                    "filter": filter or {"enabled": False},
                    "resources": {"num_workers": workers, "cpus_per_worker": 1},
                    "eval": {"train_envs": True, "n_tasks": 1, "max_new_tokens": 2},
                }
            ],
        }
    )


def _equivalence_run(tmp_path: Path, workers: int) -> list[dict]:
    """``workers`` Ray Train workers (1: in this process, no process group at all)."""
    import ray.cloudpickle
    from ray.train import RunConfig
    from ray.train.torch import TorchTrainer

    import distributed_worker
    from cascade.stage_job import scaling_config

    out = tmp_path / f"w{workers}"
    out.mkdir()
    if workers == 1:
        distributed_worker.equivalence_worker({"out": str(out), "per_device": 8})
        return [json.loads((out / "rank0.json").read_text())]
    ray.cloudpickle.register_pickle_by_value(distributed_worker)
    stage = stage_cfg(out, workers).stages[0]
    TorchTrainer(
        distributed_worker.equivalence_worker,
        train_loop_config={"out": str(out), "per_device": 8 // workers},
        scaling_config=scaling_config(stage),
        run_config=RunConfig(name=f"eq{workers}", storage_path=str(out / "ray")),
    ).fit()
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(workers)]


def test_two_workers_match_one_worker_with_twice_the_batch(ray_cluster, tmp_path):
    (one,) = _equivalence_run(tmp_path, 1)
    r0, r1 = _equivalence_run(tmp_path, 2)
    assert r0["world"] == 2 and one["world"] == 1
    # the two ranks trained on distinct tasks that together are the 1-worker batch, in order
    assert not set(r0["seen"]) & set(r1["seen"])
    assert r0["seen"] + r1["seen"] == one["seen"]
    assert one["loss"] != 0 and one["grad_norm"] > 0
    assert r0["loss"] == pytest.approx(one["loss"], rel=1e-4, abs=1e-6)
    assert r0["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-3)
    # curriculum feedback from both ranks reached both copies: identical, and equal to 1 worker's
    assert r0["curriculum"] == r1["curriculum"] == one["curriculum"]


def _train_worker_pids() -> list[int]:
    """This session's Ray Train workers: descendants of this process (its embedded cluster) only."""
    import psutil

    pids = []
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "RayTrainWorker" in " ".join(proc.cmdline()):
                pids.append(proc.pid)
        except psutil.Error:  # ended meanwhile
            continue
    return pids


def test_two_worker_stage_killed_resumes_and_rank0_alone_wrote_the_files(ray_cluster, tmp_path):
    # the pass-rate filter keeps every candidate here: what is checked is that the ranks split
    # the sampling, agree on the kept set, and rank 0 alone writes the cache
    pass_filter = {"enabled": True, "num_prompts": 6, "num_generations": 2, "max_pass": 1.0, "max_new_tokens": 4}
    cfg = stage_cfg(tmp_path / "run", 2, filter=pass_filter, max_steps=6)
    stage = tmp_path / "run" / "rl"
    failure: list[BaseException] = []

    def first_attempt() -> None:
        try:
            run_cascade(cfg, notify=lambda _: None)
        except BaseException as exc:  # noqa: BLE001 - the kill is the point
            failure.append(exc)

    thread = threading.Thread(target=first_attempt)
    thread.start()
    deadline = time.monotonic() + 300
    while not (stage / "checkpoints" / "checkpoint-1" / "task_stream.json").is_file():
        assert time.monotonic() < deadline and thread.is_alive(), "no checkpoint-1 before the deadline"
        time.sleep(0.1)
    pids = _train_worker_pids()
    assert pids
    os.kill(pids[-1], signal.SIGKILL)
    thread.join(300)
    assert failure, "the stage finished before a worker could be killed"
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]["rl"]["status"] == "failed"

    entry = run_cascade(cfg, notify=lambda _: None).stage("rl")
    assert entry["status"] == "done" and entry["train_workers"] == 2 and entry["steps"] == 6
    assert Path(entry["resumed_from"]).parent.name == "checkpoints"
    records = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "loss" in r]
    assert steps[-1] == 6 and all(a != b for a, b in zip(steps, steps[1:]))  # one line per step: rank 1 wrote none
    assert (stage / "final" / "config.json").is_file() and (stage / "task_stream.json").is_file()
    assert not (stage / "checkpoints").exists()  # a finished stage keeps only `final` by default
    cache = json.loads((stage / "pass_rate_filter.json").read_text())
    assert cache["stats"]["candidates"] == 6 and len(cache["kept"]) == 6
    assert entry["filter"]["kept"] == 6
    # The restored stream went on from its checkpoint's position: the 6 filter candidates, then
    # 6 steps x 2 prompts, plus the batch a fresh dataloader prefetches, plus the one prefetched
    # before the kill (drawn, never trained). Skipping the already-trained batches as well
    # would add 2 per restored step.
    assert json.loads((stage / "task_stream.json").read_text())["drawn"] == 6 + 6 * 2 + 2 + 2


def test_unplaceable_stage_fails_in_seconds_naming_what_is_missing(ray_cluster, tmp_path):
    from cascade.plan import plan

    total = int(ray_cluster.cluster_resources()["CPU"])
    cfg = stage_cfg(tmp_path / "run", total + 1, per_device_train_batch_size=4)
    plan(cfg)  # imports TRL & co. outside the timing: what is timed is placement, not imports
    started = time.monotonic()
    with pytest.raises(UnplaceableStage, match=rf"needs {total + 1} training workers of \{{CPU: 1\}}.*missing 1 x \{{CPU: 1\}}"):
        run_cascade(cfg, notify=lambda _: None)
    assert time.monotonic() - started < 10
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"]["rl"]["status"] == "failed" and "missing" in manifest["stages"]["rl"]["error"]
