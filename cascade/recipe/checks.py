"""Early checks of a recipe config against the policy type, for the config loader and the trainer."""

from __future__ import annotations

from typing import Any

from cascade.recipe.effect import inactive_problems, recipe_in_effect

_DPPO_LOSSES = {"grpo", "bnpo", "dr_grpo", "dapo", "luspo"}


def check_recipe_for_model(args: Any, model_type: str, num_processes: int = 1,
                           generation: dict[str, Any] | None = None) -> list[str]:
    """Problems (one sentence each, naming the option) with ``args`` for a policy of ``model_type``.

    Includes every requested switch that cannot apply here and is not in ``allow_inactive``
    (``cascade.recipe.effect``): a switch never turns itself off quietly.
    """
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
    if getattr(args, "router_bias_update_rate", 0.0) > 0 and not zaya:
        problems.append("router_bias_update_rate > 0 needs a ZAYA policy (balancing_biases buffers)")
    if getattr(args, "dynamic_sampling", False) and (args.num_generations or 0) < 2:
        problems.append("dynamic_sampling needs num_generations >= 2")
    rows = recipe_in_effect(args, model_type or None, generation, num_processes=num_processes)
    problems.extend(f"{key}: {msg}" for key, msg in inactive_problems(rows, getattr(args, "allow_inactive", None)))
    return problems
