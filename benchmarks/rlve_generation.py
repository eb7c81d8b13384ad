"""Task-generation throughput over the rlve-gym environments: Ray worker pool vs in-process.

For each difficulty, one task per environment (seed = --seed) is generated twice in the
same run: sequentially in this process (LocalGeneratorPool, rlve's own timeout) and by the
GeneratorPool (actors with a deadline per problem). Prints JSON with tasks/s for each,
and the environments that failed or timed out at each difficulty.

    python benchmarks/rlve_generation.py --limit 40 --timeout 5 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.generator_pool import GeneratorPool, LocalGeneratorPool, Outcome  # noqa: E402
from envs.rlve import rlve_identifiers  # noqa: E402


def _summary(outcomes: list[Outcome], env_ids: list[str], seconds: float) -> dict:
    failed = sorted(e for e, o in zip(env_ids, outcomes) if o.status == "failed")
    timed_out = sorted(e for e, o in zip(env_ids, outcomes) if o.status == "timeout")
    ok = sum(o.status == "ok" for o in outcomes)
    slowest = sorted(zip((o.elapsed_s for o in outcomes), env_ids), reverse=True)[:5]
    return {
        "seconds": round(seconds, 3),
        "tasks": len(outcomes),
        "ok": ok,
        "tasks_per_s": round(len(outcomes) / seconds, 2) if seconds else None,
        "failed": failed,
        "timeout": timed_out,
        "slowest": {e: round(t, 3) for t, e in slowest},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--difficulties", type=int, nargs="+", default=[0, 5, 10])
    ap.add_argument("--limit", type=int, default=None, help="only the first N environments (sorted by id)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per problem")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-local", action="store_true", help="pool only (in-process cannot kill a hang)")
    args = ap.parse_args()

    import ray

    env_ids = [f"rlve/{i}" for i in rlve_identifiers()][: args.limit]
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="error")
    result: dict = {"envs": len(env_ids), "workers": args.workers, "timeout_s": args.timeout, "by_difficulty": {}}
    try:
        t0 = time.perf_counter()
        pool = GeneratorPool(num_workers=args.workers, timeout_s=args.timeout, preload=("rlve",))
        pool.run([("rlve/Multiplication", 0, 0)] * args.workers)  # wait for every worker to start
        result["pool_startup_s"] = round(time.perf_counter() - t0, 2)
        local = LocalGeneratorPool(timeout_s=args.timeout)
        local.run([("rlve/Multiplication", 0, 0)])  # import rlve-gym outside the timing
        for d in args.difficulties:
            requests = [(e, args.seed, d) for e in env_ids]
            # Pool first: an in-process rlve timeout leaves its generator running in a thread
            # of this process, which would steal CPU (and the GIL) from the pool's driver loop.
            t = time.perf_counter()
            row = {"pool": _summary(pool.run(requests), env_ids, time.perf_counter() - t)}
            if not args.skip_local:
                t = time.perf_counter()
                row["in_process"] = _summary(local.run(requests), env_ids, time.perf_counter() - t)
            result["by_difficulty"][str(d)] = row
            print(f"difficulty {d} done: {json.dumps(row)}", file=sys.stderr, flush=True)
        result["pool_stats"] = pool.stats()
        pool.close()
    finally:
        ray.shutdown()
    print(json.dumps(result, indent=1, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
    # rlve's in-process timeout leaves a runaway generator thread behind, and the
    # interpreter would join it at exit: leave without waiting (output is flushed).
    os._exit(0)
