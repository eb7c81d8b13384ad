"""Group advantages from raw rewards: TRL's std-normalised GRPO and MaxRL's mean-normalised form.

Both take an optional per-rollout bonus that enters the numerator only, so shaping terms
(the length bonus) never move the group baseline, which stays on raw rewards.
"""

from __future__ import annotations

import torch

_STD_EPS = 1e-4  # TRL's constant, so "grpo" here reproduces TRL's advantages exactly


def _grouped(x: torch.Tensor, group_size: int) -> torch.Tensor:
    return x.view(-1, group_size)


def _nanstd(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Unbiased std ignoring NaN (TRL's ``nanstd``), for unscorable rollouts."""
    mean = torch.nanmean(x, dim=dim, keepdim=dim is not None)
    var = torch.nanmean((x - mean) ** 2, dim=dim)
    count = (~torch.isnan(x)).sum(dim=dim) if dim is not None else (~torch.isnan(x)).sum()
    return torch.sqrt(var * count / (count - 1).clamp(min=1))


def grpo_advantages(
    rewards: torch.Tensor, group_size: int, scale: str = "group", bonus: torch.Tensor | None = None
) -> torch.Tensor:
    """(r + bonus - mean_g(r)) / (std(r) + 1e-4); ``scale`` is TRL's group/batch/none std choice."""
    mean = torch.nanmean(_grouped(rewards, group_size), dim=1).repeat_interleave(group_size)
    numerator = rewards - mean if bonus is None else rewards + bonus - mean
    if scale == "none":
        adv = numerator
    elif scale == "group":
        std = _nanstd(_grouped(rewards, group_size), dim=1).repeat_interleave(group_size)
        adv = numerator / (std + _STD_EPS)
    elif scale == "batch":
        adv = numerator / (_nanstd(rewards) + _STD_EPS)
    else:
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    return torch.nan_to_num(adv, nan=0.0)


def maxrl_advantages(
    rewards: torch.Tensor, group_size: int, bonus: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """MaxRL: (r + bonus - mean_g) / mean_g; a group whose mean is <= 0 has nothing to normalise by, so 0.

    Dividing by the mean (the solve rate for binary rewards) up-weights hard prompts that are
    rarely solved, which is what makes MaxRL a maximum-likelihood rather than a pass@1 objective.
    """
    mean = torch.nanmean(_grouped(rewards, group_size), dim=1).repeat_interleave(group_size)
    numerator = rewards - mean if bonus is None else rewards + bonus - mean
    safe = mean > eps
    adv = torch.where(safe, numerator / torch.where(safe, mean, torch.ones_like(mean)), torch.zeros_like(mean))
    return torch.nan_to_num(adv, nan=0.0)
