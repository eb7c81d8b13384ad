"""The stage-kind contract and its registry; imports none of the stage modules.

No training loop lives here; ``cascade.runner`` turns a declaration plus the YAML's
overrides into a TRL trainer.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from envs.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class StageKind:
    """What a stage kind trains on and how, before the YAML overrides anything."""

    name: str
    trainer: Literal["grpo", "sft"]
    description: str
    envs: list[dict[str, Any]]
    rewards: list[dict[str, Any]] = field(default_factory=lambda: [{"name": "task"}])
    curriculum: dict[str, Any] = field(default_factory=lambda: {"kind": "fixed"})
    trainer_defaults: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] | None = None  # default EvalSpec (cascade/eval_config.py); None: not evaluated


STAGE_KINDS: Registry[StageKind] = Registry("stage kind")


def register_stage(kind: StageKind) -> StageKind:
    """Register a stage kind; the caller's module is named if the name is already taken."""
    caller = sys._getframe(1).f_globals.get("__name__", "?")
    return STAGE_KINDS.add(kind.name, kind, where=f"{caller}:{kind.name}")


def get_stage_kind(name: str) -> StageKind:
    try:
        return STAGE_KINDS.get(name)
    except UnknownNameError as exc:
        raise KeyError(str(exc)) from None


# The recipe shared by the verifiable-reward stages 1-3 (DESIGN.md, report §IV-B): Dr-GRPO
# aggregation, no KL, MaxRL advantages with DAPO dynamic sampling, DPPO binary-TV (delta 0.1)
# instead of ratio clipping, and the repetition gate. Router replay is on by default for ZAYA.
VERIFIABLE_RL_DEFAULTS: dict[str, Any] = {
    "loss_type": "dr_grpo",
    "beta": 0.0,
    "advantage_estimator": "maxrl",
    "trust_region": "dppo_binary_tv",
    "dppo_delta": 0.1,
    "dynamic_sampling": True,
    "degeneracy_gate": True,
}
