"""What a finished stage was trained with, so a rerun notices when that has changed.

The manifest keeps, per finished stage, the part of the resolved config that decides its
training (the stage section, the shared trainer defaults, the policy, the seed and the
held-out split; not its eval, which only re-scores) and the fingerprint of the checkpoint it
started from. A rerun compares both with the current config and the current previous stage:
a finished stage whose inputs changed is never silently kept.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cascade.config import CascadeConfig, StageConfig


def training_inputs(cfg: CascadeConfig, stage: StageConfig) -> dict[str, Any]:
    """The resolved settings that decide what ``stage`` trains (JSON data)."""
    from cascade.stage_eval import training_split

    return {
        "stage": stage.model_dump(mode="json", exclude={"eval"}),
        "trainer": cfg.trainer,
        "policy": cfg.policy.model_dump(mode="json"),
        "seed": cfg.seed,
        "heldout": cfg.heldout.model_dump(mode="json") if training_split(cfg) is not None else None,
    }


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted key paths whose values differ (``stage.`` prefixes read as the stage's own keys)."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return [k.removeprefix("stage.") for k in keys]
