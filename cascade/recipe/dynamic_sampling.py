"""DAPO dynamic sampling: find groups with zero reward spread and splice refilled groups in their place.

DAPO drops a group because it carries no gradient: every advantage in it is zero. What makes
the advantages zero is a constant advantage *numerator*, so "zero spread" is tested on the
reward that enters the numerator: r_i + Δr_i, the raw reward plus the length bonus (both
MaxRL's (r + Δr − mean)/mean and GRPO's (r + Δr − mean)/std keep the baseline on raw rewards).
With the length bonus off that is DAPO's raw-reward rule. With it on, an all-correct group
(p = 1) whose lengths differ is kept: rewards [1, 1, 1, 1] with lengths [10, 40, 80, 120] and
c = 1 have MaxRL advantages [0.5, 0.23, −0.14, −0.5], a real signal towards short answers, which
the report's bonus exists to give. All-wrong groups and all-correct groups of equal lengths
(every λ̃ = ½, so Δr is constant) still have zero spread and are dropped. MaxRL gives a group
with mean 0 zero advantages whatever its bonus; the bonus is 0 there too (no correct rollout).

Several processes: spread is judged on the gathered (global) rewards, every rank draws the
same number of refill groups in lockstep, and each rank splices only its own rows (see the
trainer's ``_dynamic_sampling``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

# How each tensor of TRL's scored batch is laid out, so batches with different padded widths can be
# concatenated: prompt tensors are left-padded, completion tensors right-padded, ``router_routes``
# spans prompt + completion. Anything not listed here blocks splicing (the caller falls back to masking).
PROMPT_KEYS = {"prompt_ids": "pad", "prompt_mask": 0}
COMPLETION_KEYS = {
    "completion_ids": "pad",
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "tool_mask": 0,
}
ROW_KEYS = {"advantages"}
ROUTES_KEY = "router_routes"
SCALAR_KEYS = {"num_items_in_batch"}


def spread_rewards(rewards: torch.Tensor, bonus: torch.Tensor | None) -> torch.Tensor:
    """The per-rollout term of the advantage numerator: r + Δr (NaN stays NaN: unscorable)."""
    return rewards if bonus is None else rewards + bonus.to(rewards)


def zero_spread_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """(num_groups,) bool: every scorable value in the group is equal (all-NaN groups count too).

    Pass ``spread_rewards(rewards, bonus)``: the numerator's reward, not the raw one alone.
    """
    r = rewards.view(-1, group_size)
    nan = torch.isnan(r)
    hi = torch.where(nan, torch.full_like(r, -float("inf")), r).max(dim=1).values
    lo = torch.where(nan, torch.full_like(r, float("inf")), r).min(dim=1).values
    return (hi - lo <= 0) | nan.all(dim=1)


SPLICEABLE_KEYS = set(PROMPT_KEYS) | set(COMPLETION_KEYS) | ROW_KEYS | SCALAR_KEYS | {ROUTES_KEY}


def can_splice(batch: dict[str, Any]) -> bool:
    """Only batches made of the tensors we know how to pad can be spliced."""
    return set(batch) <= SPLICEABLE_KEYS


def _pad_to(x: torch.Tensor, width: int, value: float, left: bool) -> torch.Tensor:
    extra = width - x.size(1)
    if extra <= 0:
        return x
    spec = [0, 0] * (x.dim() - 2) + ([extra, 0] if left else [0, extra])
    return F.pad(x, spec, value=value)


def splice(
    batch: dict[str, Any], rows: torch.Tensor, refill: dict[str, Any], pad_token_id: int
) -> dict[str, Any]:
    """Replace ``rows`` of ``batch`` with the rows of ``refill`` (same count), padding as needed."""
    out: dict[str, Any] = {}
    p_old, p_new = batch["prompt_ids"].size(1), refill["prompt_ids"].size(1)
    c_old, c_new = batch["completion_ids"].size(1), refill["completion_ids"].size(1)
    p, c = max(p_old, p_new), max(c_old, c_new)
    for key, value in batch.items():
        if key in SCALAR_KEYS or value is None:
            continue
        new = refill[key]
        if key in PROMPT_KEYS or key in COMPLETION_KEYS:
            fill = PROMPT_KEYS.get(key, COMPLETION_KEYS.get(key))
            fill = pad_token_id if fill == "pad" else fill
            left = key in PROMPT_KEYS
            width = p if left else c
            value, new = _pad_to(value, width, fill, left), _pad_to(new, width, fill, left)
        elif key == ROUTES_KEY:
            value = torch.cat([_pad_to(value[:, :p_old], p, -1, True), _pad_to(value[:, p_old:], c, -1, False)], 1)
            new = torch.cat([_pad_to(new[:, :p_new], p, -1, True), _pad_to(new[:, p_new:], c, -1, False)], 1)
        value = value.clone()
        value[rows] = new.to(value.dtype)
        out[key] = value
    loss_mask = out["completion_mask"] * out.get("tool_mask", 1)
    out["num_items_in_batch"] = loss_mask.sum()
    return out


def mask_groups(batch: dict[str, Any], rows: torch.Tensor) -> dict[str, Any]:
    """Drop rows from the loss without changing shapes: zero advantage and zero loss mask.

    The loss mask is TRL's ``tool_mask`` (multiplied into the loss mask only, never into attention).
    """
    out = dict(batch)
    out["advantages"] = batch["advantages"].clone()
    out["advantages"][rows] = 0.0
    tool_mask = batch.get("tool_mask")
    tool_mask = torch.ones_like(batch["completion_mask"]) if tool_mask is None else tool_mask.clone()
    tool_mask[rows] = 0
    out["tool_mask"] = tool_mask
    out["num_items_in_batch"] = (out["completion_mask"] * tool_mask).sum()
    return out
