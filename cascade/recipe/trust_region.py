"""DPPO binary-TV trust region: mask tokens that moved too far instead of clipping their ratio."""

from __future__ import annotations

import torch


def binary_tv(logps: torch.Tensor, old_logps: torch.Tensor) -> torch.Tensor:
    """|pi_theta(y_t) - pi_old(y_t)|: total variation of the binary event "sample y_t" (in [0, 1])."""
    return (logps.detach().exp() - old_logps.exp()).abs()


def dppo_keep_mask(logps: torch.Tensor, old_logps: torch.Tensor, delta: float) -> torch.Tensor:
    """True where the token stays inside the trust region (divergence <= delta)."""
    return binary_tv(logps, old_logps) <= delta


def stop_gradient_outside(logps: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Same values, but masked tokens carry no gradient (their loss term becomes a constant)."""
    return torch.where(keep, logps, logps.detach())


def masked_fraction(keep: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of real (mask == 1) tokens that the trust region removed from the gradient."""
    real = mask.bool()
    total = int(real.sum())
    return float((~keep & real).sum()) / total if total else 0.0
