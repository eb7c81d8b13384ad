"""Flags for a stage that trained without learning: pure functions over its metrics records.

A summary of start/end reward hides a stage whose every group was dropped, whose gradients
were zero or whose verifiers timed out; each check here names the metric that tripped it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DROPPED_MAX = 0.9  # mean share of groups dynamic sampling dropped
ZERO_GRAD_MAX = 0.5  # share of steps with grad_norm == 0 ("most steps")
VERIFIER_FAIL_MAX = 0.01  # mean share of completions the verifier pool could not judge
FAIL_REASONS = ("verifier_timeout", "verifier_crash")


@dataclass(frozen=True)
class Flag:
    metric: str
    message: str

    def __str__(self) -> str:
        return f"{self.metric}: {self.message}"


def _values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in records if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]


def _dropped(records: list[dict[str, Any]]) -> Flag | None:
    key = "dynamic_sampling/dropped_frac"
    vals = _values(records, key)
    if vals and sum(vals) / len(vals) > DROPPED_MAX:
        return Flag(key, f"mean {sum(vals) / len(vals):.2f} > {DROPPED_MAX}: most groups had no reward spread")
    return None


def _zero_grad(records: list[dict[str, Any]]) -> Flag | None:
    vals = _values(records, "grad_norm")
    zero = sum(1 for v in vals if v == 0.0)
    if vals and zero / len(vals) > ZERO_GRAD_MAX:
        return Flag("grad_norm", f"0 on {zero}/{len(vals)} steps")
    return None


def _zero_reward(records: list[dict[str, Any]]) -> Flag | None:
    vals = _values(records, "reward")
    if vals and all(v == 0.0 for v in vals):
        return Flag("reward", f"0 on every one of {len(vals)} steps")
    return None


def _verifier_failures(records: list[dict[str, Any]]) -> Flag | None:
    """Per step, the share of failed judgements summed over reward functions and reasons."""
    keys = sorted({k for r in records for k in r if k.rsplit("/", 1)[-1] in FAIL_REASONS and "/reason/" in k})
    steps = [r for r in records if any("/reason/" in k for k in r)]
    if not keys or not steps:
        return None
    per_step = [sum(float(r.get(k) or 0.0) for k in keys) for r in steps]
    mean = sum(per_step) / len(steps)
    if mean > VERIFIER_FAIL_MAX:
        return Flag(",".join(keys), f"mean {mean:.1%} of completions > {VERIFIER_FAIL_MAX:.0%}")
    return None


def _curriculum_still(records: list[dict[str, Any]]) -> Flag | None:
    keys = sorted({k for r in records for k in r if k.startswith("curriculum/") and k.endswith("difficulty")})
    per_env = [k for k in keys if k != "curriculum/mean_difficulty"] or keys
    series = {k: _values(records, k) for k in per_env}
    series = {k: v for k, v in series.items() if v}
    if not series or max(len(v) for v in series.values()) < 2:
        return None
    if all(max(v) == min(v) for v in series.values()):
        where = "curriculum/*/difficulty" if len(series) > 1 else next(iter(series))
        return Flag(where, f"constant over the stage ({len(series)} env(s)): the curriculum never moved")
    return None


CHECKS = (_dropped, _zero_grad, _zero_reward, _verifier_failures, _curriculum_still)


def stage_flags(records: list[dict[str, Any]]) -> list[Flag]:
    """Every check that trips on a stage's metrics records (TRL log lines), in a fixed order."""
    train = [r for r in records if "train_runtime" not in r]  # the end-of-training summary line
    return [flag for check in CHECKS if (flag := check(train)) is not None]
