"""How fast does a config mistake come back? Prints JSON.

``bad_config_s``: wall seconds of ``cascade run`` on a config with an unknown env id, until it
exits 2 with its one line (the CLI starts nothing: no Ray, no run dir). ``cli_start_s``: wall
seconds of ``cascade --help`` in the same run, the floor any command pays for its interpreter
and imports. ``checks_s``: the name/option checks alone (``cascade.config.check_names``) on the
shipped configs, in process. The README's promise is exit 2 in under 5 s on an idle machine;
wall time is noisy where the cores are shared.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _wall(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cascade.cli", *args], capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - start, proc.returncode


def main(repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.yaml"
        bad.write_text(yaml.safe_dump({
            "run_dir": str(Path(tmp) / "run"),
            "stages": [{"name": "rl", "kind": "reasoning_warmup", "envs": [{"id": "arith/addd"}]}],
        }))
        runs = [_wall(["run", str(bad)]) for _ in range(repeats)]
        helps = [_wall(["--help"])[0] for _ in range(repeats)]
    from cascade.config import check_names, load_config

    checks = {}
    for name in ("tiny.yaml", "zaya1-8b.yaml"):
        cfg = load_config(ROOT / "configs" / name)
        start = time.perf_counter()
        check_names(cfg, name)
        checks[name] = round(time.perf_counter() - start, 3)
    bad_s, cli_s = statistics.median(r[0] for r in runs), statistics.median(helps)
    print(json.dumps({
        "bad_config_s": round(bad_s, 2),
        "bad_config_exit_codes": sorted({r[1] for r in runs}),
        "cli_start_s": round(cli_s, 2),
        "ratio_vs_cli_start": round(bad_s / cli_s, 2),
        "checks_s": checks,
    }, indent=1))


if __name__ == "__main__":
    main()
