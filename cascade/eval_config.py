"""YAML schema of per-stage evaluation: what a stage is judged on, before and after it trains.

A stage's ``eval:`` is an inline ``EvalSpec``, the name of an entry of the top-level
``evals:`` map, or absent (the stage kind's default, see ``stages/``). Every task an
evaluation scores is held out from training by one of three rules, per environment:

- ``split`` (default): the run's hash split (``heldout:`` at the top level, envs/heldout.py).
  Every training stream of the run rejects those tasks, so no stage ever trains on them.
- ``unseen_env``: an environment no training stream of the stage draws from (checked at load).
- ``seeds``: seeds from ``seed_start`` on, which training streams (seeds < 2**31) never draw.
  Weaker: a small problem space can repeat a problem under another seed; prefer ``split``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

HeldOutRule = Literal["split", "unseen_env", "seeds"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeldOutSettings(_Strict):
    """The run-wide held-out split: ``fraction`` of task identities, chosen by a salted hash."""

    fraction: float = Field(0.2, gt=0, lt=1)
    salt: str = "zaya-cascade"


class EvalEnvSpec(_Strict):
    """One environment of an evaluation, at a fixed difficulty."""

    id: str
    options: dict[str, Any] = {}
    difficulty: int = 0
    heldout: HeldOutRule | None = None  # None: the evaluation's rule


class EvalSpec(_Strict):
    """What a stage is evaluated on. ``temperature: 0`` is greedy decoding (then n_samples = k = 1)."""

    enabled: bool = True
    train_envs: bool = False  # the stage's own training environments, on their held-out tasks
    difficulties: list[int] | None = None  # for train_envs: fixed levels (default: each env's own)
    max_envs: int = Field(16, ge=1)  # cap on train_envs (a deterministic subset of e.g. rlve/*)
    envs: list[EvalEnvSpec] = []
    heldout: HeldOutRule = "split"
    n_tasks: int = Field(16, ge=1)  # per environment and difficulty
    n_samples: int = Field(1, ge=1)
    k: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_new_tokens: int = Field(64, ge=1)
    seed_start: int = 3_000_000_000  # above training seeds (< 2**31), below numpy's 2**32 seed limit
    rsa: bool = False

    @model_validator(mode="after")
    def _samples_fit(self) -> "EvalSpec":
        if self.k > self.n_samples:
            raise ValueError(f"k={self.k} needs n_samples >= k, got n_samples={self.n_samples}")
        if self.temperature == 0 and self.n_samples > 1:
            raise ValueError("greedy decoding (temperature 0) gives one sample per task: set n_samples: 1")
        return self
