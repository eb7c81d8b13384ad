"""p*_s, the running maximum solve rate per source, for the length bonus's accuracy gate.

A source is the environment a prompt came from (the row's ``env_id`` column, or ``env_id`` inside
its JSON ``task``). After each scored training batch, a source's solve rate is the share of its
rollouts in that batch that were correct, and p*_s = max(p*_s, that rate). The state is global
(computed from gathered flags, identical on every rank) and lives in each checkpoint as
``solve_rate_max.json`` (written by ``SolveRateCallback``, read back by the trainer on resume).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

DEFAULT_SOURCE = "default"


def row_source(row: dict[str, Any]) -> str:
    """The source of one dataset row; rows that name none share ``DEFAULT_SOURCE``."""
    env = row.get("env_id")
    if env is None and isinstance(row.get("task"), str):
        try:
            env = json.loads(row["task"]).get("env_id")
        except (ValueError, AttributeError):
            env = None
    return str(env) if env is not None else DEFAULT_SOURCE


class SolveRateMax:
    """Running maximum of each source's per-batch solve rate."""

    FILE = "solve_rate_max.json"

    def __init__(self) -> None:
        self.best: dict[str, float] = {}

    def lookup(self, group_sources: list[str]) -> torch.Tensor:
        """p*_s per group (0 for a source not seen yet: no history, no gate)."""
        return torch.tensor([self.best.get(s, 0.0) for s in group_sources], dtype=torch.float32)

    def update(self, group_sources: list[str], correct: torch.Tensor, group_size: int) -> None:
        """Fold one batch in: per source, the share of its rollouts that were correct."""
        ok = correct.view(-1, group_size).float().cpu()
        for source in set(group_sources):
            rows = [i for i, s in enumerate(group_sources) if s == source]
            rate = float(ok[rows].mean())
            self.best[source] = max(self.best.get(source, 0.0), rate)

    def state_dict(self) -> dict[str, float]:
        return dict(self.best)

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.best = {str(k): float(v) for k, v in state.items()}

    def save(self, checkpoint: Path) -> None:
        (checkpoint / self.FILE).write_text(json.dumps(self.state_dict(), sort_keys=True))

    def restore(self, checkpoint: Path) -> bool:
        path = checkpoint / self.FILE
        if not path.is_file():
            return False
        self.load_state_dict(json.loads(path.read_text()))
        return True


class SolveRateCallback(TrainerCallback):
    """Writes p*_s into every checkpoint the trainer saves (rank 0 only)."""

    def __init__(self, tracker: SolveRateMax) -> None:
        self.tracker = tracker

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and ckpt.is_dir():
            self.tracker.save(ckpt)
