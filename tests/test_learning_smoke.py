"""The learning benchmark's plumbing on a two-step run: config validates, JSON has its keys, eval is sane.

The learning claim itself (>= +20 points on unseen problems after RL) takes about two minutes and lives in
``benchmarks/learning.py``; this only keeps the script from rotting.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("learning_bench", ROOT / "benchmarks" / "learning.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_short_run_reports_every_number(tmp_path) -> None:
    bench = _bench()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = bench.build_config(
            str(tmp_path / "run"),
            ["stages.sft.trainer.max_steps=2", "stages.rl.trainer.max_steps=1", "stages.rl.trainer.num_generations=4",
             "stages.rl.trainer.per_device_train_batch_size=8"],
        )
        result = bench.run(cfg, n_eval=20)
    finally:
        torch.set_num_threads(threads)
    for key in ("accuracy_untrained", "accuracy_before", "accuracy_after_sft", "accuracy_after"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["accuracy_untrained"] == 0.0  # a random policy does not write <answer>N</answer>
    assert result["sft"]["steps"] == 2 and result["rl"]["steps"] == 1
    assert result["eval"]["tasks"] == 20 and result["eval"]["seen_in_training"] == 0.0 and result["wall_s"] > 0
    assert 0.0 <= result["train_split"]["accuracy_after"] <= 1.0


def test_heldout_tasks_are_the_whole_test_split_and_never_trained_on() -> None:
    bench = _bench()
    test_env = {**bench.ENV, "options": {**bench.ENV["options"], "split": "test"}}
    tasks = bench.heldout_tasks(400, test_env)
    train = {t.prompt_text() for t in bench.heldout_tasks(400, bench.ENV)}
    assert len({t.prompt_text() for t in tasks}) == len(tasks) == 113  # the test share of a + b, a, b in 0..19
    assert len(train) == 400 - 113 and not train & {t.prompt_text() for t in tasks}
    assert min(t.seed for t in tasks) >= bench.HELDOUT_SEED_BASE > 2**31
