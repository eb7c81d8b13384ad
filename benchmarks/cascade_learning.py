"""Does every stage of the cascade learn? Runs a cascade config for several seeds; prints JSON.

Each seed is a full ``cascade run`` (the driver, the stages, their held-out evals), so the
numbers are the manifest's own: per RL stage its eval's pass@1 before and after it trained,
the stage x eval matrix of seed 0, and the largest drop of each stage's own metric at a later
checkpoint (forgetting, per stage and seed, and its maximum). Target (issue 17): every RL
stage's delta >= +0.05 for every seed, max forgetting <= 0.05, all seeds in under 15 minutes
on 2 cores.

    python benchmarks/cascade_learning.py [--config configs/tiny-learn.yaml] [--seeds 0 1 2] [--jobs N] [--set k=v]...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
TARGET_DELTA, TARGET_FORGETTING = 0.05, 0.05


def ci95(values: list[float]) -> list[float]:
    """Student-t 95% interval of the mean (a point when there is one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return [mean, mean]
    half = T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return [round(mean - half, 4), round(mean + half, 4)]


def smoke_overrides(config: Path) -> list[str]:
    """A few steps per stage and tiny evals: the script's plumbing, not its claim (tests use this)."""
    import yaml

    data = yaml.safe_load(config.read_text())
    out = ["trainer.max_steps=2"]
    for stage in data["stages"]:
        out += [f"stages.{stage['name']}.trainer.max_steps=2", f"stages.{stage['name']}.num_tasks=32"]
        if isinstance(stage.get("eval"), dict):  # an inline eval; named ones are shrunk below
            out += [f"stages.{stage['name']}.eval.n_tasks=2", f"stages.{stage['name']}.eval.max_new_tokens=4"]
    for name in data.get("evals") or {}:
        out += [f"evals.{name}.n_tasks=2", f"evals.{name}.max_new_tokens=4"]
    return out


def run_seed(config: Path, seed: int, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """One full ``cascade run`` (its own embedded Ray cluster); trainer logs go to stderr."""
    from cascade.config import load_config
    from cascade.driver import run_cascade

    cfg = load_config(config, [*overrides, f"seed={seed}", f"run_dir={run_dir}"])
    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):  # trainers print their logs; stdout stays pure JSON
        manifest = run_cascade(cfg, notify=lambda line: print(f"[seed {seed}] {line}", file=sys.stderr))
    return {"manifest": manifest.data, "wall_s": round(time.monotonic() - started, 1)}


def run_seeds(config: Path, seeds: list[int], root: Path, overrides: list[str], jobs: int) -> list[dict[str, Any]]:
    """Each seed in a fresh spawned process, ``jobs`` at a time. A tiny stage trains on one thread
    (resources.worker_cpus) and waits on its evals and verifier, so one seed leaves a 2-core box
    half idle: tiny-learn's 3 seeds (its previous config) took 868 s one after another and 542 s
    at once, with the same numbers (each run is deterministic in its seed). Spawned, never
    forked: a forked child would share its parent's Ray connection."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = [pool.submit(run_seed, config, seed, root / f"seed{seed}", overrides) for seed in seeds]
        return [f.result() for f in futures]


def summarize(runs: list[dict[str, Any]], seeds: list[int], wall_s: float) -> dict[str, Any]:
    from cascade.eval_matrix import forgetting_by_suite

    by_stage = [forgetting_by_suite(r["manifest"]["eval_matrix"]) for r in runs]
    stages: dict[str, Any] = {}
    for name in runs[0]["manifest"]["order"]:
        evals = [r["manifest"]["stages"][name].get("eval") for r in runs]
        if any(e is None for e in evals):
            continue
        deltas = [round(e["delta"]["pass@1"], 4) for e in evals]
        stages[name] = {
            "before": [e["before"]["pass@1"] for e in evals], "after": [e["after"]["pass@1"] for e in evals],
            "deltas": deltas, "ci95": ci95(deltas), "every_seed_meets_target": all(d >= TARGET_DELTA for d in deltas),
            "forgetting": [round(f.get(name, 0.0), 4) for f in by_stage],  # per seed: its own metric's largest later drop
        }
    forgetting = [round(max(f.values(), default=0.0), 4) for f in by_stage]
    return {
        "seeds": seeds,
        "stages": stages,
        "matrix": runs[0]["manifest"]["eval_matrix"],
        "max_forgetting": max(forgetting),
        "max_forgetting_per_seed": forgetting,
        "wall_s": wall_s,
        "wall_s_per_seed": [r["wall_s"] for r in runs],
        "targets": {"delta": TARGET_DELTA, "max_forgetting": TARGET_FORGETTING, "wall_s": 900},
        "meets_targets": all(s["every_seed_meets_target"] for s in stages.values()) and max(forgetting) <= TARGET_FORGETTING,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tiny-learn.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key.path=value, as in the CLI")
    parser.add_argument("--run-root", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--jobs", type=int, default=None, help="seeds run at once (default: all of them)")
    parser.add_argument("--smoke", action="store_true", help="2 steps per stage, 2 eval tasks: plumbing only")
    opts = parser.parse_args()
    overrides = (smoke_overrides(opts.config) if opts.smoke else []) + opts.overrides
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        runs = run_seeds(opts.config, opts.seeds, opts.run_root or Path(tmp), overrides, opts.jobs or len(opts.seeds))
    summary = summarize(runs, opts.seeds, wall_s=round(time.monotonic() - started, 1))
    print(json.dumps({"config": str(opts.config), **summary}, indent=1))


if __name__ == "__main__":
    main()
