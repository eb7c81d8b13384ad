"""The learning benchmark's plumbing on a two-step run: config validates, JSON has its keys, eval is sane.

The learning claim itself (>= +20 points after RL) takes about a minute and lives in
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
    assert result["eval"]["tasks"] == 20 and result["wall_s"] > 0


def test_heldout_tasks_are_distinct_and_use_unseen_seeds() -> None:
    bench = _bench()
    tasks = bench.heldout_tasks(200, bench.ENV)
    assert len({t.prompt_text() for t in tasks}) == len(tasks) == 100  # every a + b with a, b in 0..9
    assert min(t.seed for t in tasks) >= bench.HELDOUT_SEED_BASE > 2**31
