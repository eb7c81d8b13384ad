"""Router telemetry (per-layer expert load, skip rate, entropy, load imbalance) and bias balancing."""

from __future__ import annotations

import torch


def routing_metrics(routes: torch.Tensor, entropy: torch.Tensor, valid: torch.Tensor, num_experts: int) -> dict[str, float]:
    """Metrics over valid tokens of (N, S, L, k) routes / (N, S, L) entropy; class ``num_experts`` is skip.

    ``router/max_min_load_ratio`` is the worst layer's max/min load over real experts (min clamped
    to one token, so an unused expert gives a large but finite ratio).
    """
    metrics: dict[str, float] = {}
    v = valid.bool()
    n_tok = int(v.sum())
    if n_tok == 0:
        return metrics
    classes = num_experts + 1
    skip_rates, ratios = [], []
    for layer in range(routes.size(2)):
        chosen = routes[:, :, layer][v].long().view(-1)
        load = torch.bincount(chosen.clamp(min=0), minlength=classes)[:classes].float() / chosen.numel()
        for e in range(num_experts):
            metrics[f"router/layer{layer}/load_e{e}"] = load[e].item()
        metrics[f"router/layer{layer}/load_skip"] = load[num_experts].item()
        real = load[:num_experts]
        ratio = (real.max() / real.min().clamp(min=1.0 / chosen.numel())).item()
        metrics[f"router/layer{layer}/max_min_load_ratio"] = ratio
        metrics[f"router/layer{layer}/entropy"] = entropy[:, :, layer][v].mean().item()
        skip_rates.append(load[num_experts].item())
        ratios.append(ratio)
    metrics["router/skip_rate"] = sum(skip_rates) / len(skip_rates)
    metrics["router/entropy"] = entropy[v].mean().item()
    metrics["router/max_min_load_ratio"] = max(ratios)
    return metrics


def expert_loads(routes: torch.Tensor, valid: torch.Tensor, num_experts: int) -> torch.Tensor:
    """(L, E) share of non-skip valid tokens sent to each real expert."""
    v = valid.bool()
    loads = []
    for layer in range(routes.size(2)):
        chosen = routes[:, :, layer][v].long().view(-1)
        chosen = chosen[(chosen >= 0) & (chosen < num_experts)]
        counts = torch.bincount(chosen, minlength=num_experts)[:num_experts].float()
        loads.append(counts / counts.sum().clamp(min=1.0))
    return torch.stack(loads)


def balancing_bias_step(biases: torch.Tensor, load: torch.Tensor, rate: float) -> torch.Tensor:
    """Aux-loss-free balancing (as in ZAYA pretraining): b_e += rate * sign(mean load - load_e).

    Only the real experts move; the skip-class bias sets the compute budget and is left alone.
    """
    new = biases.clone()
    e = load.numel()
    new[:e] += rate * torch.sign(load.mean() - load).to(new.dtype)
    return new
