"""Files that ship with the package: the repo's ``configs/`` and ``data/``.

Both are package data (``zaya_cascade.configs``, ``zaya_cascade.data``, mapped in setup.py),
found through ``importlib.resources``, so the same code reads them from a checkout, an
editable install or an installed wheel, whatever the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_file(*parts: str) -> Path:
    """A shipped data file, e.g. ``data_file("math", "tiny_arith.jsonl")``."""
    return Path(str(files("zaya_cascade.data").joinpath(*parts)))


def config_file(name: str) -> Path:
    """A shipped config or config-like YAML, e.g. ``config_file("inference/eval_suites.yaml")``."""
    return Path(str(files("zaya_cascade.configs").joinpath(*name.split("/"))))


def builtin_configs() -> list[str]:
    """Names ``cascade run NAME`` accepts without a path (the shipped cascade configs)."""
    root = Path(str(files("zaya_cascade.configs")))
    return sorted(p.stem for p in root.glob("*.yaml"))  # inference/ holds the eval suites and RSA prompt
