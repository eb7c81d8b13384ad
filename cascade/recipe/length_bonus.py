"""Length bonus for short correct answers (ZAYA1 report §IV-B2), added to the advantage numerator only."""

from __future__ import annotations

import torch


def length_bonus(
    rewards: torch.Tensor,
    lengths: torch.Tensor,
    correct: torch.Tensor,
    group_size: int,
    c: float,
    tolerance: float = 0.0,
) -> torch.Tensor:
    """Δr = c·p·m·λ̃ for correct rollouts of groups with solve rate p > 1/G, else 0.

    λ = ½ − clamp((ℓ − ℓ_min)/(ℓ_max − ℓ_min), 0, 1) over the group's correct lengths, and
    λ̃ = ½ within ``tolerance`` tokens of the shortest, so near-ties are not punished. m is the
    group's max raw reward: it puts the bonus in the stage's reward units (1 for binary verifiers,
    the top shaped score otherwise), so one c works across verifiers with different scales.
    A group with a single correct rollout (p <= 1/G) has no length contrast and gets nothing.
    """
    if c == 0.0:
        return torch.zeros_like(rewards)
    g = group_size
    r = torch.nan_to_num(rewards, nan=0.0).view(-1, g)
    ok = correct.view(-1, g).bool()
    ell = lengths.view(-1, g).to(r.dtype)
    p = ok.to(r.dtype).mean(dim=1, keepdim=True)
    m = r.max(dim=1, keepdim=True).values
    inf = torch.full_like(ell, float("inf"))
    l_min = torch.where(ok, ell, inf).min(dim=1, keepdim=True).values
    l_max = torch.where(ok, ell, -inf).max(dim=1, keepdim=True).values
    span = (l_max - l_min).clamp(min=1.0)
    lam = 0.5 - ((ell - l_min) / span).clamp(0.0, 1.0)
    lam = torch.where(ell <= l_min + tolerance, torch.full_like(lam, 0.5), lam)
    eligible = ok & (p > 1.0 / g)
    bonus = torch.where(eligible, c * p * m * lam, torch.zeros_like(lam))
    return torch.nan_to_num(bonus, nan=0.0).view(-1)
