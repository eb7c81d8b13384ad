"""Trainer callbacks: metrics to JSONL, and the task stream's state inside every checkpoint."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsCallback(TrainerCallback):
    """Appends every TRL log record (plus ``extra()``) as one JSON line; survives crashes line by line."""

    def __init__(self, path: Path, extra: Callable[[], dict[str, float]] | None = None) -> None:
        self.path = path
        self.extra = extra

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, **logs, **(self.extra() if self.extra else {})}
        with self.path.open("a") as f:
            f.write(json.dumps({k: _jsonable(v) for k, v in record.items()}) + "\n")


class StreamStateCallback(TrainerCallback):
    """Saves the task stream (curriculum included) next to each trainer checkpoint."""

    FILE = "task_stream.json"

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:  # every rank's stream is identical; rank 0 writes it
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir():
            (ckpt / self.FILE).write_text(json.dumps(self.stream.state_dict()))

    @classmethod
    def restore(cls, stream: Any, checkpoint: Path) -> bool:
        state_file = checkpoint / cls.FILE
        if not state_file.is_file():
            return False
        stream.load_state_dict(json.loads(state_file.read_text()))
        return True


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Metrics records of a stage; a torn last line (crash mid-write) is ignored."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
