"""A run's metrics as plot-ready series: stages laid end to end on one global step axis."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cascade.callbacks import read_metrics


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class StageSeries:
    """One stage's training records (the end-of-training summary line left out) and its x offset."""

    name: str
    records: list[dict[str, Any]]
    offset: int = 0
    keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.records = [r for r in self.records if "train_runtime" not in r]
        self.keys = {k for r in self.records for k, v in r.items() if is_number(v)}

    @property
    def length(self) -> int:
        return max((int(r.get("step", i + 1)) for i, r in enumerate(self.records)), default=0)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(global steps, values) of ``key`` over the records that logged it."""
        xs, ys = [], []
        for i, rec in enumerate(self.records):
            if is_number(rec.get(key)):
                xs.append(self.offset + int(rec.get("step", i + 1)))
                ys.append(float(rec[key]))
        return xs, ys

    def steps(self) -> list[int]:
        return [self.offset + int(r.get("step", i + 1)) for i, r in enumerate(self.records)]


def lay_out(named_records: list[tuple[str, list[dict[str, Any]]]]) -> list[StageSeries]:
    """Stages in run order, each starting where the previous one ended on the global axis."""
    out, offset = [], 0
    for name, records in named_records:
        stage = StageSeries(name, records, offset)
        out.append(stage)
        offset += stage.length
    return out


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[StageSeries]]:
    """The manifest and every stage's metrics of a run directory, in run order."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no manifest.json (is this a run directory?)")
    manifest = json.loads(manifest_path.read_text())
    order = manifest.get("order", list(manifest.get("stages", {})))
    return manifest, lay_out([(name, read_metrics(run_dir / name / "metrics.jsonl")) for name in order])


def restrict(stages: list[StageSeries], pick: Callable[[str], bool]) -> list[StageSeries]:
    """Only the stages that logged a key ``pick`` accepts, laid end to end again: a 300-step SFT
    stage must not squeeze four 2-step RL stages into a sliver of the reward axis."""
    kept = [s for s in stages if any(pick(k) for k in s.keys)]
    out, offset = [], 0
    for s in kept:
        out.append(replace(s, offset=offset))
        offset += s.length
    return out
