"""Which environment comes next: id selection (include/exclude/held-out) and weighting.

``least_sampled`` follows the ZAYA1 report's idea of weighting up the environments that
have been drawn least: weight ∝ (1 + n_e - min_n)^-power, relative to the least-drawn
environment so the preference does not fade as counts grow (power 0 is uniform).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable, Sequence
from typing import Any


def _matches(env_id: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(env_id, p) for p in patterns)


def select_env_ids(
    available: Sequence[str],
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    held_out: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """(training ids, held-out ids) from ``available`` and glob patterns.

    ``include`` (default: everything) then ``exclude`` pick the pool; ``held_out`` ids are
    taken out of training entirely and returned separately for evaluation.
    """
    pool = [e for e in available if include is None or _matches(e, include)]
    pool = [e for e in pool if not _matches(e, exclude or ())]
    held = [e for e in pool if _matches(e, held_out or ())]
    train = [e for e in pool if e not in set(held)]
    if not train:
        raise ValueError("curriculum has no training environments after include/exclude/held_out")
    return train, held


class EnvSampler:
    """Draws environment ids by their base weights (the stage's env ``weight``), times the
    least-sampled preference in ``least_sampled`` mode."""

    def __init__(
        self,
        env_ids: Sequence[str],
        mode: str = "uniform",
        power: float = 1.0,
        base_weights: dict[str, float] | None = None,
    ) -> None:
        if mode not in ("uniform", "least_sampled"):
            raise ValueError(f"sampling must be 'uniform' or 'least_sampled', not {mode!r}")
        self.env_ids = list(env_ids)
        self.mode = mode
        self.power = float(power)
        self.base = {e: float((base_weights or {}).get(e, 1.0)) for e in self.env_ids}
        if any(w <= 0 for w in self.base.values()):
            raise ValueError(f"environment weights must be > 0, got {self.base}")
        self.counts: dict[str, int] = {e: 0 for e in self.env_ids}

    def weights(self) -> list[float]:
        if self.mode == "uniform":
            return [self.base[e] for e in self.env_ids]
        low = min(self.counts.values())
        return [self.base[e] * (1.0 + self.counts[e] - low) ** -self.power for e in self.env_ids]

    def sample(self, rng: random.Random) -> str:
        env_id = rng.choices(self.env_ids, weights=self.weights())[0]
        self.counts[env_id] += 1
        return env_id

    def state_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for env_id, n in state.get("counts", {}).items():
            if env_id in self.counts:
                self.counts[env_id] = int(n)
