"""Length bonus for short correct answers (ZAYA1 report §IV-B2), added to the advantage numerator only.

Per group of G rollouts with solve rate p (share of correct rollouts), for rollout i:

    Δr_i = c · p · m_i · λ̃_i   if p > 1/G and p > p*_s − T_acc,   else 0

- m_i ∈ {0, 1}: rollout i is correct (the verifier's flag, not a reward value).
- λ_i = ½ − clamp((ℓ_i − ℓ_min) / (ℓ_max − ℓ_min), 0, 1), ℓ_min / ℓ_max over the group's
  correct lengths; λ̃_i = ½ when ℓ_i ≤ ℓ_min + T_l (near-ties are not punished).
- p > 1/G: a single correct rollout has no length contrast.
- p*_s: the running maximum solve rate of the group's source s (environment id), taken before
  this batch updates it (see ``solve_rate.SolveRateMax``). The bonus only applies while the
  source is solved within T_acc of its best, so length pressure never trades accuracy away.
"""

from __future__ import annotations

import torch


def length_bonus(
    lengths: torch.Tensor,
    correct: torch.Tensor,
    group_size: int,
    c: float,
    tolerance: float = 0.0,
    best_solve_rate: torch.Tensor | None = None,
    acc_tolerance: float = 0.0,
) -> torch.Tensor:
    """(N,) Δr for N = groups × G rollouts; ``best_solve_rate`` is p*_s per group (None: no gate)."""
    if c == 0.0:
        return torch.zeros(lengths.shape, dtype=torch.float32, device=lengths.device)
    g = group_size
    ok = correct.view(-1, g).bool()
    ell = lengths.view(-1, g).float()
    m = ok.float()
    p = m.mean(dim=1, keepdim=True)
    inf = torch.full_like(ell, float("inf"))
    l_min = torch.where(ok, ell, inf).min(dim=1, keepdim=True).values
    l_max = torch.where(ok, ell, -inf).max(dim=1, keepdim=True).values
    span = (l_max - l_min).clamp(min=1.0)
    lam = 0.5 - ((ell - l_min) / span).clamp(0.0, 1.0)
    lam = torch.where(ell <= l_min + tolerance, torch.full_like(lam, 0.5), lam)
    gate = p > 1.0 / g
    if best_solve_rate is not None:
        gate = gate & (p > best_solve_rate.view(-1, 1).to(p) - acc_tolerance)
    bonus = torch.where(ok & gate, c * p * m * lam, torch.zeros_like(lam))
    return torch.nan_to_num(bonus, nan=0.0).view(-1)
