"""Latency of one ``cascade verify`` call (a fresh process per verdict, as users script
it) against a bare interpreter, printed as JSON.

Each case runs ``--repeats`` times, interleaved with the bare baseline so that load from
other processes hits both alike; we report the median wall and CPU (user+sys) seconds
of each and the ratio to bare. CPU time is the figure to read on a loaded machine: wall
time there includes waiting for a core. ``--root`` measures another checkout (say, the
main branch) with the same cases. Target: median wall <= 1 s per call on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "math_string": ("math", {"answer": "4"}, "The answer is \\boxed{4}."),
    "math_sympy": ("math", {"answer": "(x+1)^2"}, "So \\boxed{x^2+2x+1}."),
    "code_stdin": ("code", {"inputs": ["21\n", "4\n"], "outputs": ["42\n", "8\n"]},
                   "```python\nprint(int(input()) * 2)\n```"),
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one run, started in the measured checkout
    (``python -m`` puts the working directory first on sys.path)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=env["PYTHONPATH"])
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[3:5]} failed: {out.stderr[-500:]}")
    return wall, cpu, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--root", default=str(ROOT), help="checkout whose cascade CLI is measured")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": args.root}
    bare = [sys.executable, "-c", "pass"]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        samples: dict[str, list[tuple[float, float]]] = {"bare": []}
        argvs = {}
        for name, (verifier, payload, completion) in CASES.items():
            (Path(tmp) / f"{name}.json").write_text(json.dumps(payload))
            (Path(tmp) / f"{name}.txt").write_text(completion)
            argvs[name] = [sys.executable, "-m", "cascade.cli", "verify", verifier,
                           "--payload", f"{tmp}/{name}.json", "--completion", f"{tmp}/{name}.txt"]
            samples[name] = []
        for name, argv in argvs.items():  # one untimed run each: page cache, sandbox preflight files
            verdict = json.loads(timed(argv, env)[2])
            assert verdict["correct"], (name, verdict)
        for _ in range(args.repeats):
            for name, argv in argvs.items():
                samples["bare"].append(timed(bare, env)[:2])
                samples[name].append(timed(argv, env)[:2])
    bare_wall = statistics.median(w for w, _ in samples["bare"])
    for name, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        results[name] = {"wall_s": round(wall, 4), "cpu_s": round(statistics.median(c for _, c in runs), 4),
                         "x_bare_wall": round(wall / bare_wall, 1)}
    print(json.dumps({"root": args.root, "repeats": args.repeats, "load_avg_1m": round(os.getloadavg()[0], 2),
                      "results": results, "target_wall_s": 1.0}, indent=2))


if __name__ == "__main__":
    main()
