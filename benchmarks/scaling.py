"""Data-parallel scaling of one tiny GRPO stage: 1 vs 2 Ray Train CPU workers; prints JSON.

Both runs train the same global batch (strong scaling): 1 worker x ``--batch`` completions
against 2 workers x ``--batch / 2``, one torch thread per worker, through the project's own
path (``cascade.driver.run_cascade`` -> a ``TorchTrainer`` job -> ``runner.run_stage`` on each
worker, DDP over gloo). Throughput is completions trained per second of the trainer's own
``train_runtime`` (generation, scoring, backward and all-reduce; Ray Train start-up and model
loading excluded and reported separately as ``job_wall_s``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cascade.callbacks import read_metrics
from cascade.config import CascadeConfig
from cascade.driver import run_cascade


def stage_config(run_dir: Path, workers: int, batch: int, steps: int, completion: int) -> CascadeConfig:
    return CascadeConfig.model_validate(
        {
            "run_dir": str(run_dir),
            "seed": 0,
            "ray": {"verifier_workers": 1},
            "trainer": {
                "per_device_train_batch_size": batch // workers,
                "num_generations": 4,
                "max_completion_length": completion,
                "max_steps": steps,
                "save_strategy": "no",
                "learning_rate": 3e-4,
            },
            "stages": [
                {
                    "name": "rl",
                    "kind": "math_code_rl",
                    "envs": [{"id": "arith/add"}],
                    "trainer": {"dynamic_sampling": False},
                    "resources": {"num_workers": workers, "cpus_per_worker": 1},
                }
            ],
        }
    )


def measure(root: Path, workers: int, batch: int, steps: int, completion: int) -> dict[str, float]:
    cfg = stage_config(root / f"w{workers}", workers, batch, steps, completion)
    started = time.monotonic()
    run_cascade(cfg, fresh=True, notify=lambda m: print(m, file=sys.stderr))
    wall = time.monotonic() - started
    final = [r for r in read_metrics(root / f"w{workers}" / "rl" / "metrics.jsonl") if "train_runtime" in r][-1]
    return {
        "workers": workers,
        "per_device_batch": batch // workers,
        "train_runtime_s": round(final["train_runtime"], 2),
        "samples_per_s": round(steps * batch / final["train_runtime"], 3),
        "job_wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16, help="global completions per step (4 per prompt)")
    parser.add_argument("--completion", type=int, default=16, help="max completion tokens")
    parser.add_argument("--cpus", type=int, default=2, help="the embedded Ray cluster's CPUs")
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="error")
    with tempfile.TemporaryDirectory() as tmp:
        one = measure(Path(tmp), 1, args.batch, args.steps, args.completion)
        two = measure(Path(tmp), 2, args.batch, args.steps, args.completion)
    ratio = two["samples_per_s"] / one["samples_per_s"]
    print(json.dumps({"one_worker": one, "two_workers": two, "ratio": round(ratio, 3), "efficiency": round(ratio / 2, 3)}, indent=1))


if __name__ == "__main__":
    main()
