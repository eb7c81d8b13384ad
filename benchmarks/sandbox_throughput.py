"""Code-sandbox throughput against naive baselines, printed as JSON.

Rates are executions per second with ``--workers`` concurrent callers (default: all
cores). Modes: ``bare`` = ``python3 -c pass``; ``naive`` = one unsandboxed subprocess
per test, as LiveCodeBench does; ``sandbox`` = our full isolation. The suite runs every
shipped problem's reference solution on all its tests through the ``code`` verifier.
Target: sandboxed print(1) >= 0.6 x bare start-up rate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.code.problems import load_problems  # noqa: E402
from verifiers.base import get_verifier  # noqa: E402
from verifiers.sandbox import SandboxConfig, run_python  # noqa: E402
from verifiers.sandbox.judge import outputs_match  # noqa: E402
from verifiers.sandbox.mounts import interpreter  # noqa: E402


def rates(fns: dict, seconds: float, workers: int, slice_s: float = 0.5) -> dict[str, dict[str, float]]:
    """Rates of several modes, measured in interleaved slices so that load from other
    processes on the machine hits every mode alike. Each ``fn`` returns units done."""
    done = {name: 0 for name in fns}
    spent = {name: 0.0 for name in fns}
    for _ in range(max(1, int(seconds / slice_s))):
        for name, fn in fns.items():
            stop = time.monotonic() + slice_s

            def loop(fn=fn, stop=stop) -> int:
                n = 0
                while time.monotonic() < stop:
                    n += fn()
                return n

            start = time.monotonic()
            with ThreadPoolExecutor(workers) as pool:
                done[name] += sum(pool.map(lambda _: loop(), range(workers)))
            spent[name] += time.monotonic() - start
    return {n: {"per_s": round(done[n] / spent[n], 2), "count": done[n], "seconds": round(spent[n], 2)}
            for n in fns}


def naive_test(python: str, path: str, stdin: str, expected: str) -> bool:
    out = subprocess.run([python, path], input=stdin, capture_output=True, text=True, timeout=10)
    return out.returncode == 0 and outputs_match(out.stdout, expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cfg = SandboxConfig()
    python = interpreter(cfg.python).executable
    secs, w = args.seconds, args.workers
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp, "one.py")
        one.write_text("print(1)\n")
        small = rates({
            "bare": lambda: subprocess.run([python, "-c", "pass"]).returncode == 0,
            "bare_is": lambda: subprocess.run([python, "-I", "-S", "-c", "pass"]).returncode == 0,
            "naive": lambda: naive_test(python, str(one), "", "1"),
            "sandbox": lambda: run_python("print(1)", b"", cfg).stdout == b"1\n",
        }, secs, w)
        bare, bare_is, naive_one, sandbox_one = (small[k] for k in ("bare", "bare_is", "naive", "sandbox"))

        problems = [p for p in load_problems() if p.solutions and not p.fn_name]
        files = []
        for p in problems:
            f = Path(tmp, f"{p.id}.py")
            f.write_text(p.solutions[0])
            files.append((p, str(f)))
        n_tests = sum(len(p.inputs) for p in problems)

        def naive_suite() -> int:
            ok = sum(naive_test(python, f, i, o) for p, f in files for i, o in zip(p.inputs, p.outputs))
            assert ok == n_tests
            return ok

        verifier = get_verifier("code")
        call_problems = [p for p in load_problems() if p.solutions and p.fn_name]

        def sandbox_suite() -> int:
            done = 0
            for p in problems + call_problems:
                v = verifier.verify(f"```python\n{p.solutions[0]}\n```", p.payload())
                assert v.correct, (p.id, v.reason)
                done += len(p.inputs)
            return done

        suite = rates({"naive": naive_suite, "sandbox": sandbox_suite}, max(secs, 2.0), w, slice_s=1.0)
        naive_s, sandbox_s = suite["naive"], suite["sandbox"]
    report = {
        "machine": {"cpus": os.cpu_count(), "workers": w, "python": python},
        "isolation": run_python("print(1)", b"", cfg).isolation,
        "print1": {"bare_python_c_pass": bare, "bare_python_I_S_c_pass": bare_is,
                   "naive_subprocess": naive_one, "sandbox": sandbox_one,
                   "sandbox_over_bare": round(sandbox_one["per_s"] / bare["per_s"], 3),
                   "sandbox_over_naive": round(sandbox_one["per_s"] / naive_one["per_s"], 3),
                   "target_sandbox_over_bare": 0.6},
        "suite": {"problems": len(problems) + len(call_problems), "stdin_tests_naive": n_tests,
                  "naive_tests": naive_s, "sandbox_tests": sandbox_s,
                  "sandbox_over_naive": round(sandbox_s["per_s"] / naive_s["per_s"], 3)},
    }
    report["meets_target"] = report["print1"]["sandbox_over_bare"] >= 0.6
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
