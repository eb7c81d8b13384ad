"""Step-time overhead of every recipe switch vs plain TRL GRPOTrainer on the tiny ZAYA; prints JSON.

Both trainers share every GRPOConfig setting; runs alternate (plain, recipe, plain, ...) so drift
hits both equally; the statistic is the median per-step ``step_time`` (generation + loss +
backward) is averaged over all measured steps (generation and reuse steps alternate with
num_iterations=2, so a mean, not a median), first step of each run dropped as warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch
from datasets import IterableDataset
from trl import GRPOConfig, GRPOTrainer

from cascade.policy import build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer

COMMON = dict(
    num_generations=4, per_device_train_batch_size=8, max_completion_length=8, report_to="none", use_cpu=True,
    logging_steps=1, save_strategy="no", seed=0, loss_type="dr_grpo", beta=0.0, num_iterations=2,
    learning_rate=0.0,  # both policies stay identical, so both sample the same completions: pure overhead
)
RECIPE = dict(
    advantage_estimator="maxrl", trust_region="dppo_binary_tv", dynamic_sampling=True, dynamic_sampling_max_refills=1,
    length_bonus_c=0.1, degeneracy_gate=True, router_replay=True, router_telemetry=True, router_bias_update_rate=1e-3,
)


def _stream() -> IterableDataset:
    def gen():
        for i in range(100_000):
            yield {"prompt": [{"role": "user", "content": f"what is {i % 7} plus {i % 5}"}], "task": str(i)}

    return IterableDataset.from_generator(gen)


def _reward(completions, **_):
    return [float(sum(map(ord, c[0]["content"])) % 3) / 2 for c in completions]


def _run(recipe: bool, steps: int) -> tuple[list[float], dict]:
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    with tempfile.TemporaryDirectory() as out:
        if recipe:
            args = CascadeGRPOConfig(output_dir=out, max_steps=steps, **COMMON, **RECIPE)
            trainer = CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
        else:
            args = GRPOConfig(output_dir=out, max_steps=steps, **COMMON)
            trainer = GRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
        trainer.train()
    times = [h["step_time"] for h in trainer.state.log_history if "step_time" in h][1:]
    extra = {k: v for h in trainer.state.log_history for k, v in h.items() if k.startswith(("dynamic_sampling/", "dppo/"))}
    return times, extra


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    opts = parser.parse_args()
    torch.set_num_threads(1)
    plain, recipe, extra = [], [], {}
    start = time.perf_counter()
    for r in range(opts.repeats):
        for is_recipe in ((False, True) if r % 2 == 0 else (True, False)):
            times, info = _run(is_recipe, opts.steps)
            (recipe if is_recipe else plain).extend(times)
            extra.update(info)
    result = {
        "plain_step_s": statistics.mean(plain),
        "recipe_step_s": statistics.mean(recipe),
        "ratio": statistics.mean(recipe) / statistics.mean(plain),
        "ratio_of_medians": statistics.median(recipe) / statistics.median(plain),
        "steps_measured": [len(plain), len(recipe)],
        "last_recipe_metrics": extra,
        "wall_s": time.perf_counter() - start,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
