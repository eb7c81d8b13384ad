"""Experiment tracking through report_to: names from the run, reserved keys refused, tensorboard end to end."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cascade.tracking import check_report_to, tracking_args, tracking_env
from cascade.trainer_config import RESERVED_KEYS, check_trainer_section


def test_the_runner_fixed_args_are_all_reserved(tmp_path):
    from cascade.runner import _fixed_args

    env = dict(os.environ)
    try:
        assert set(_fixed_args(tmp_path / "run" / "rl")) <= RESERVED_KEYS
    finally:
        os.environ.clear()
        os.environ.update(env)


@pytest.mark.parametrize("key", ["output_dir", "run_name", "logging_steps", "save_strategy", "push_to_hub"])
def test_a_reserved_key_is_refused_not_dropped(key):
    problems = check_trainer_section({key: "x"}, "grpo")
    assert problems == [(key, "is set by the run layout and cannot be configured")]


def test_report_to_must_name_installed_trackers():
    assert check_report_to(["tensorboard"]) is None and check_report_to("none") is None
    assert "unknown tracker" in check_report_to(["tensorbored"])
    section = {"report_to": ["tensorboard"]}
    assert check_trainer_section(section, "grpo") == [] and section["report_to"] == ["tensorboard"]
    from transformers.integrations.integration_utils import get_available_reporting_integrations

    if "wandb" not in get_available_reporting_integrations():
        assert "not installed" in check_report_to(["wandb"])


def test_the_run_is_the_group_and_each_stage_a_run(tmp_path):
    stage = tmp_path / "myrun" / "rlve"
    assert tracking_args(stage) == {"run_name": "myrun/rlve"}
    env = tracking_env(stage, {})
    assert env["WANDB_RUN_GROUP"] == "myrun" and env["MLFLOW_EXPERIMENT_NAME"] == "myrun"
    assert env["TENSORBOARD_LOGGING_DIR"] == str(stage / "tb")
    assert env["MLFLOW_TRACKING_URI"].startswith("file://")
    user = tracking_env(stage, {"WANDB_RUN_GROUP": "mine", "TENSORBOARD_LOGGING_DIR": "/tb"})
    assert user["WANDB_RUN_GROUP"] == "mine" and user["TENSORBOARD_LOGGING_DIR"] == "/tb/myrun/rlve"


CONFIG = """
run_dir: {run_dir}
seed: 0
ray: {{num_cpus: 2, verifier_workers: 1, log_to_driver: false}}
policy: {{name_or_path: tiny}}
trainer:
  per_device_train_batch_size: 4
  num_generations: 2
  max_completion_length: 6
  max_steps: 2
  save_steps: 2
  report_to: [tensorboard]
  allow_inactive: [dppo]   # on-policy: DPPO's mask cannot act
eval_matrix: false
stages:
  - {{name: warm, kind: reasoning_warmup, envs: [{{id: arith/add}}], filter: {{enabled: false}},
     eval: {{train_envs: true, n_tasks: 2, max_new_tokens: 4}}}}
"""


def run_under_pty(args: list[str], timeout: float) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdout and stderr; return (status, everything it wrote)."""
    master, slave = pty.openpty()
    from cascade.tracking import ENV_KEYS

    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}  # other tests here set tracker variables
    env = {**clean, "TERM": "xterm-256color", "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cascade.cli", *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.kill() if proc.poll() is None else None
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_a_stage_under_a_terminal_draws_progress_and_writes_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(run_dir=run_dir))
    status, out = run_under_pty(["stage", str(config), "warm"], timeout=540)
    assert status == 0, out[-3000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "\x1b[" in out and "[1/1] warm" in plain and "2/2" in plain and "[1/1] warm: done  2/2 steps" in plain
    assert "Writing model shards" not in out and "{'loss'" not in out, "worker output stays in log.txt"
    log = (run_dir / "warm" / "log.txt").read_text()
    assert "2/2" in log, "the trainer's own progress bar is kept in log.txt"
    assert "Writing model shards" not in log and "Loading weights" not in log
    events = list((run_dir / "warm" / "tb").glob("events.out.tfevents.*"))
    assert events, list((run_dir / "warm").iterdir())
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert "train/reward" in acc.Tags()["scalars"]
    assert [e.step for e in acc.Scalars("train/reward")] == [1, 2]


def test_a_worker_that_runs_two_stages_gives_each_its_own_tensorboard_dir(tmp_path, monkeypatch):
    from cascade.tracking import configure_tracking

    for key in ("TENSORBOARD_LOGGING_DIR", "WANDB_RUN_GROUP"):
        monkeypatch.setenv(key, os.environ.get(key, "x"))  # restored after the test
        monkeypatch.delenv(key)
    configure_tracking(tmp_path / "run" / "a")
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "run" / "a" / "tb")
    configure_tracking(tmp_path / "run" / "b")
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "run" / "b" / "tb")
