"""Synthetic metrics records at the scale of a real run (for report and flag tests)."""

from __future__ import annotations

import math
import random
from typing import Any


def router_record(rng: random.Random, t: float, layers: int, experts: int) -> dict[str, float]:
    rec: dict[str, float] = {}
    ratios, skips = [], []
    for l in range(layers):
        raw = [math.exp(rng.gauss(0, 1.5 * (1 - t) + 0.2)) for _ in range(experts)]
        skip = 0.05 + 0.3 * l / layers * t
        total = sum(raw)
        loads = [(1 - skip) * r / total for r in raw]
        for e, v in enumerate(loads):
            rec[f"router/layer{l}/load_e{e}"] = v
        rec[f"router/layer{l}/load_skip"] = skip
        ratio = max(loads) / max(min(loads), 1e-3)
        rec[f"router/layer{l}/max_min_load_ratio"] = ratio
        rec[f"router/layer{l}/entropy"] = 1.0 + 1.5 * t + 0.1 * math.sin(l)
        ratios.append(ratio)
        skips.append(skip)
    rec["router/max_min_load_ratio"] = max(ratios)
    rec["router/skip_rate"] = sum(skips) / layers
    return rec


def rl_stage(name: str, steps: int = 400, layers: int = 40, experts: int = 16, envs: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """A learning RL stage: reward rises, reasons shift, router balances, curriculum climbs."""
    rng = random.Random(f"{name}:{seed}")
    out = []
    for step in range(1, steps + 1):
        t = step / steps
        acc = min(1.0, 0.1 + 0.6 * t + rng.gauss(0, 0.05))
        rec: dict[str, Any] = {
            "step": step, "loss": rng.gauss(0, 0.02), "grad_norm": abs(rng.gauss(1, 0.3)), "reward": acc, "task/accuracy": acc,
            "task/reason/correct": acc, "completions/mean_length": 300 + 200 * t, "completions/max_length": 1024.0,
            "dynamic_sampling/dropped_frac": 0.3,
        }
        wrong = 1 - acc
        if step % 3:  # some reasons are absent on some steps
            rec["task/reason/wrong_answer"] = wrong * 0.8
            rec["task/reason/no_answer"] = wrong * 0.2
        else:
            rec["task/reason/wrong_answer"] = wrong
        if layers:
            rec.update(router_record(rng, t, layers, experts))
        for e in range(envs):
            rec[f"curriculum/rlve/Env{e:03d}/difficulty"] = float(int(t * (e % 7 + 1)) + e % 3)
            rec[f"curriculum/rlve/Env{e:03d}/samples"] = float(step * (envs - e))
        if envs:
            rec["curriculum/mean_difficulty"] = sum(rec[f"curriculum/rlve/Env{e:03d}/difficulty"] for e in range(envs)) / envs
        out.append(rec)
    out.append({"step": steps, "train_runtime": 10.0, "train_loss": 0.0})
    return out


def full_scale_run(stages: int = 7, steps: int = 400, layers: int = 40, experts: int = 16) -> list[tuple[str, list[dict[str, Any]]]]:
    """The issue's scale: 7 stages x 400 steps x 40 layers x 16 experts; stage 2 has 400 envs."""
    names = ["sft"] + [f"rl{i}" for i in range(1, stages)]
    run = [("sft", [{"step": s, "loss": 3.0 * math.exp(-s / 100), "grad_norm": 1.0} for s in range(1, steps + 1)])]
    for i, name in enumerate(names[1:], 1):
        run.append((name, rl_stage(name, steps, layers, experts, envs=400 if i == 2 else 0, seed=i)))
    return run
