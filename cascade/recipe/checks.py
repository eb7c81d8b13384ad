"""Early checks of a recipe config against the policy type, for the config loader and the trainer."""

from __future__ import annotations

from typing import Any

_DPPO_LOSSES = {"grpo", "bnpo", "dr_grpo", "dapo", "luspo"}


def check_recipe_for_model(args: Any, model_type: str) -> list[str]:
    """Problems (one sentence each, naming the option) with ``args`` for a policy of ``model_type``."""
    problems: list[str] = []
    zaya = model_type == "zaya"
    if zaya and getattr(args, "router_aux_loss_coef", None):
        problems.append(
            f"router_aux_loss_coef={args.router_aux_loss_coef}: TRL's router aux loss does not support ZAYA's "
            "skip expert and crashes; leave it unset or 0 (use router_bias_update_rate for balancing)"
        )
    if zaya and getattr(args, "model_init_kwargs", None) and args.model_init_kwargs.get("output_router_logits"):
        problems.append("model_init_kwargs.output_router_logits: the router aux loss must stay off for ZAYA")
    if getattr(args, "trust_region", "clip") == "dppo_binary_tv":
        if args.loss_type not in _DPPO_LOSSES:
            problems.append(f"trust_region=dppo_binary_tv needs a ratio loss_type ({sorted(_DPPO_LOSSES)}), not {args.loss_type!r}")
        if args.delta is not None:
            problems.append("trust_region=dppo_binary_tv replaces clipping; unset `delta` (two-sided clipping)")
        if args.importance_sampling_level != "token":
            problems.append("trust_region=dppo_binary_tv masks tokens; importance_sampling_level must be 'token'")
    reshaped = getattr(args, "advantage_estimator", "grpo") != "grpo" or getattr(args, "length_bonus_c", 0.0) > 0
    if reshaped and args.multi_objective_aggregation != "sum_then_normalize":
        problems.append("advantage_estimator=maxrl / length_bonus_c need multi_objective_aggregation='sum_then_normalize'")
    replay = getattr(args, "router_replay", None)
    if replay and not zaya:
        problems.append(f"router_replay=True needs a ZAYA policy, got model_type {model_type!r}")
    if replay and (args.use_vllm or args.use_transformers_continuous_batching):
        problems.append("router_replay=True cannot record routes from vLLM or continuous batching generation")
    if getattr(args, "router_bias_update_rate", 0.0) > 0 and not zaya:
        problems.append("router_bias_update_rate > 0 needs a ZAYA policy (balancing_biases buffers)")
    if getattr(args, "dynamic_sampling", False) and (args.num_generations or 0) < 2:
        problems.append("dynamic_sampling needs num_generations >= 2")
    return problems
