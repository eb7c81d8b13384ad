"""Step-time overhead of every recipe switch (Muon included) vs plain TRL GRPOTrainer on the tiny ZAYA.

Both trainers share every GRPOConfig setting. Each repeat runs one plain and one recipe trainer back
to back, the order alternating between repeats, so drift and neighbours' load hit both sides alike.
Per run the statistic is the mean ``step_time`` (generation + loss + backward) over its steps, the
first dropped as warm-up (generation and reuse steps alternate with num_iterations=2, so a mean, not
a median). Printed: min / median / max of the per-repeat ratio recipe / plain, and the ratio of the
medians of the per-run means. stdout is the JSON only; trainer output goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time

import torch
from datasets import IterableDataset
from trl import GRPOConfig, GRPOTrainer

from cascade.policy import build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer
from cascade.recipe.muon import build_muon_optimizer

COMMON = dict(
    num_generations=4, per_device_train_batch_size=8, max_completion_length=8, report_to="none", use_cpu=True,
    logging_steps=1, save_strategy="no", seed=0, loss_type="dr_grpo", beta=0.0, num_iterations=2,
    learning_rate=0.0,  # both policies stay identical, so both sample the same completions: pure overhead
)
RECIPE = dict(
    advantage_estimator="maxrl", trust_region="dppo_binary_tv", dynamic_sampling=True, dynamic_sampling_max_refills=1,
    length_bonus_c=0.1, degeneracy_gate=True, router_replay=True, router_telemetry=True,
    optimizer="muon",  # bias balancing stays off: with replay it is a config error (the report keeps biases fixed)
)


def _stream() -> IterableDataset:
    def gen():
        for i in range(100_000):
            yield {"prompt": [{"role": "user", "content": f"what is {i % 7} plus {i % 5}"}], "task": str(i)}

    return IterableDataset.from_generator(gen)


def _reward(completions, **_):
    return [float(sum(map(ord, c[0]["content"])) % 3) / 2 for c in completions]


def _run(recipe: bool, steps: int) -> tuple[float, dict]:
    """Mean step time of one trainer run (warm-up step dropped) and its last recipe metrics."""
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(sys.stderr):
        if recipe:
            args = CascadeGRPOConfig(output_dir=out, max_steps=steps, **COMMON, **RECIPE)
            trainer = CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
        else:
            args = GRPOConfig(output_dir=out, max_steps=steps, **COMMON)
            trainer = GRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
        trainer.train()
    times = [h["step_time"] for h in trainer.state.log_history if "step_time" in h][1:]
    extra = {k: v for h in trainer.state.log_history for k, v in h.items() if k.startswith(("dynamic_sampling/", "dppo/"))}
    if recipe:
        extra["optimizer"] = type(trainer.optimizer.optimizer).__name__
    return statistics.mean(times), extra


def _optimizer_step_ms(steps: int = 20) -> dict[str, float]:
    """Bare optimizer-step cost on the tiny policy (random gradients, lr 0): Muon vs the plain side's AdamW."""
    model, _ = build_tiny_policy()
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    args = CascadeGRPOConfig(output_dir=tempfile.gettempdir(), use_cpu=True, bf16=False, learning_rate=0.0)
    optimizers = {"muon": build_muon_optimizer(model, args, []), "adamw": torch.optim.AdamW(model.parameters(), lr=0.0)}
    out = {}
    for name, opt in optimizers.items():
        opt.step()
        start = time.perf_counter()
        for _ in range(steps):
            opt.step()
        out[f"{name}_step_ms"] = (time.perf_counter() - start) / steps * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    opts = parser.parse_args()
    if opts.repeats < 5 or opts.steps < 3:
        parser.error("need --repeats >= 5 and --steps >= 3 for a stable ratio")
    torch.set_num_threads(1)
    plain, recipe, extra = [], [], {}
    start = time.perf_counter()
    for r in range(opts.repeats):
        for is_recipe in ((False, True) if r % 2 == 0 else (True, False)):
            mean_step, info = _run(is_recipe, opts.steps)
            (recipe if is_recipe else plain).append(mean_step)
            extra.update(info)
    ratios = [b / a for a, b in zip(plain, recipe)]
    result = {
        "ratio_min": min(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_max": max(ratios),
        "ratio_of_medians": statistics.median(recipe) / statistics.median(plain),
        "per_repeat_ratio": [round(x, 4) for x in ratios],
        "plain_step_s_median": statistics.median(plain),
        "recipe_step_s_median": statistics.median(recipe),
        "repeats": opts.repeats,
        "steps_per_run": opts.steps,
        "recipe_switches": RECIPE,
        "last_recipe_metrics": extra,
        "optimizer_step_ms": _optimizer_step_ms(),
        "wall_s": time.perf_counter() - start,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
