"""DPPO binary-TV trust region (Qi et al., arXiv 2602.04879), as verl's ``compute_policy_loss_dppo_tv``.

Per completion token, with mu the reference (behaviour) policy and A the advantage:

- keep-mask: A > 0 keeps the token when pi(y_t) - mu(y_t) <= delta; A <= 0 keeps it when
  pi(y_t) - mu(y_t) >= -delta. Only a move *along* the advantage beyond delta is masked: a
  token that moved against its advantage keeps its corrective gradient.
- gradient of a kept token: -A * sg(min(pi/mu, cap)) * d log pi (truncated importance sampling,
  the ratio detached, log-ratio clamped to [-20, 20] first; the reference cap is 20).
- masked tokens: exactly zero gradient.

TRL's ratio losses (grpo/bnpo/dr_grpo/dapo with clipping disabled) compute
``-A * exp(logp - old)`` per token, whose gradient is ``-A * exp(logp - old)``. ``dppo_logps``
rescales the *gradient* of the log-probs TRL sees (values unchanged), so that TRL's own loss
and aggregation produce exactly the reference gradient.
"""

from __future__ import annotations

import torch

LOG_RATIO_CLAMP = 20.0  # verl clamps log(pi/mu) to [-20, 20] before exponentiating


def dppo_keep_mask(
    logps: torch.Tensor, ref_logps: torch.Tensor, advantages: torch.Tensor, delta: float
) -> torch.Tensor:
    """(B, T) bool: the token stays in the trust region for the sign of its advantage.

    ``advantages`` is per token (B, T) or per sequence (B,); A == 0 takes the A < 0 branch as in
    the reference (such tokens carry no gradient either way).
    """
    adv = advantages.unsqueeze(-1) if advantages.dim() == logps.dim() - 1 else advantages
    moved = logps.detach().exp() - ref_logps.exp()
    return torch.where(adv > 0, moved <= delta, moved >= -delta)


def truncated_ratio(logps: torch.Tensor, ref_logps: torch.Tensor, cap: float) -> torch.Tensor:
    """sg(min(pi/mu, cap)), the log-ratio clamped to [-20, 20] first (detached: no gradient)."""
    log_ratio = (logps.detach() - ref_logps).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    return log_ratio.exp().clamp(max=cap)


def dppo_logps(
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    loss_old_logps: torch.Tensor | None,
    keep: torch.Tensor,
    cap: float,
) -> torch.Tensor:
    """Log-probs for TRL's ratio loss whose gradient is the DPPO reference gradient.

    Values equal ``logps``. TRL's per-token surrogate is ``-A * exp(out - old)`` with ``old`` =
    ``loss_old_logps`` (TRL's recomputed old log-probs) or, when that is None, ``sg(out)``. Its
    gradient is ``-A * exp(logp - old) * w`` for ``out = sg(logp) + w * (logp - sg(logp))``, so
    ``w = keep * min(pi/mu, cap) / exp(logp - old)`` yields ``-A * keep * min(pi/mu, cap)``.
    """
    detached = logps.detach()
    weight = truncated_ratio(logps, ref_logps, cap)
    if loss_old_logps is not None:
        weight = weight * torch.exp(loss_old_logps - detached)  # divide by TRL's own ratio
    weight = torch.where(keep, weight, torch.zeros_like(weight))
    return detached + weight * (logps - detached)


def masked_fraction(keep: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of real (mask == 1) tokens that the trust region removed from the gradient."""
    real = mask.bool()
    total = int(real.sum())
    return float((~keep & real).sum()) / total if total else 0.0
