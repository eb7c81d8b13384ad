"""Per-batch state the recipe trainer passes between the TRL private methods it overrides.

What travels *with the batch* are tensors in TRL's scored-batch dict (``router_routes``,
``sampling_per_token_logps``, ``old_per_token_logps``): TRL's ``_prepare_inputs`` shuffles that
dict (``shuffle_sequence_dict``) and splits it into ``steps_per_generation`` slices
(``split_tensor_dict``), which index every tensor or list value row-wise, so only row-aligned
tensors survive it; an object in the dict would not. What a call hands to the nested calls TRL
makes inside it (the rollout's routes to the old-log-prob forward, the DPPO reference to the
policy forward and the keep-mask back) lives in one of the two objects below, created by the
outer override for that call and dropped when it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RolloutState:
    """One generate-and-score call (``_score``): set by the rollout and the reward overrides."""

    routes: torch.Tensor | None = None  # (B, S, L, K) routes recorded during generation
    entropy: torch.Tensor | None = None  # (B, S, L) router entropy recorded during generation
    prefill: int = 0  # prompt width the routes start with
    generate_calls: int = 0  # > 1: tool turns, the recorded routes do not line up
    replay_forward: bool = False  # replay the routes in TRL's old/ref log-prob forwards
    rewards_per_func: torch.Tensor | None = None  # gathered, after the degeneracy gate
    correct: torch.Tensor | None = None  # gathered 0/1 correctness flags (verifier's, gated)


@dataclass
class LossState:
    """One ``_compute_loss`` call: what the DPPO forward needs, and what it reports back."""

    ref_logps: torch.Tensor | None  # mu: sampling, else TRL's old, else None (current, detached)
    loss_old_logps: torch.Tensor | None  # what TRL's loss divides by (None: its own detached logps)
    advantages: torch.Tensor
    keep: torch.Tensor | None = None  # DPPO keep-mask of the last grad-enabled forward
    logps: torch.Tensor | None = None  # the policy's raw log-probs of that forward (for probes)
