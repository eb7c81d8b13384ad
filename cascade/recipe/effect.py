"""The recipe in effect: which switches of a resolved CascadeGRPOConfig act, and why (no model load).

Each row is ``{"active": bool, "requested": bool, "key": str, "why": str, **params}``. ``requested``
says the config asks for the switch (explicitly or through a default that applies to this policy),
``key`` names the trainer option that asks. A requested switch that is not active cannot apply in
this configuration: ``inactive_problems`` turns it into a load-time error unless the stage lists its
row name in ``allow_inactive``. The same table is logged at stage start, written to the manifest
under the stage's ``recipe`` key and printed per stage by ``cascade plan --json``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

log = logging.getLogger(__name__)

SWITCHES = (
    "router_replay", "dppo", "advantage_estimator", "aggregation", "dynamic_sampling",
    "length_bonus", "degeneracy_gate", "kl", "optimizer",
)
# Generation paths that return the routes the trainer replays: the trainer's own HF generate, the
# hf engine (its router recorder), and vllm (routed experts; an engine that returns none fails at stage start).
ROUTE_RECORDING_BACKENDS = {"trainer", "hf", "vllm"}
# Engines that return the sampling policy's own log-probs with each rollout (DPPO's reference).
BEHAVIOUR_LOGPROB_BACKENDS = {"hf", "vllm"}

_TORCH_ADAMW = {"adamw_torch", "adamw_torch_fused"}
# TRL loss types whose normaliser is fixed by the batch shape (not the loss mask's token count).
_MASK_FREE_NORMALISERS = {"grpo", "dr_grpo", "sapo", "luspo"}
_AGGREGATION = {
    "grpo": "per-sequence token mean, then batch mean",
    "bnpo": "token mean over the local batch",
    "dr_grpo": "Dr-GRPO: token sum / (batch x max_completion_length), no length normalisation",
    "dapo": "DAPO: token mean over the global batch",
}


def _row(active: bool, requested: bool, key: str, why: str, **params: Any) -> dict[str, Any]:
    return {"active": active, "requested": requested, "key": key, "why": why, **params}


def _backend(args: Any, generation: dict[str, Any] | None) -> str:
    """Who generates rollouts: an engine named by the stage's ``generation`` section, else TRL."""
    if generation and generation.get("backend") not in (None, "trainer"):
        return str(generation["backend"])
    if args.use_vllm:
        return "trl-vllm"
    if args.use_transformers_continuous_batching:
        return "trl-continuous-batching"
    return "trainer"


def _router_replay(args: Any, model_type: str | None, backend: str) -> dict[str, Any]:
    asked = getattr(args, "router_replay", None)
    zaya = model_type == "zaya"
    if asked is None and model_type is None:
        return _row(False, False, "router_replay", "default: on iff the policy is ZAYA; its model type is unknown here")
    requested = zaya if asked is None else bool(asked)
    if not requested:
        why = "router_replay=false" if asked is False else f"default: off for model_type {model_type!r} (not ZAYA)"
        return _row(False, False, "router_replay", why)
    if not zaya:
        return _row(False, True, "router_replay", f"needs a ZAYA policy (top-1 + skip routing), got model_type {model_type!r}")
    if backend not in ROUTE_RECORDING_BACKENDS:
        return _row(False, True, "router_replay", f"rollouts from {backend} do not return the experts chosen at rollout")
    if backend == "trainer":
        return _row(True, True, "router_replay", "training forwards reuse the experts recorded during the trainer's generate")
    return _row(True, True, "router_replay", f"training forwards reuse the experts the {backend} engines return with each "
                "rollout (an engine that returns none fails at stage start)")


def _behaviour_logprobs(args: Any, backend: str) -> tuple[str, bool]:
    """DPPO's reference policy and whether it can differ from the policy being trained."""
    if backend in BEHAVIOUR_LOGPROB_BACKENDS:
        return f"behaviour log-probs returned by the {backend} rollout engine", True
    if backend == "trl-vllm":  # the trainer's DPPO prefers the batch's sampling log-probs when present
        return "vLLM's sampling log-probs (TRL's sampling_per_token_logps)", True
    generate_every = args.steps_per_generation * args.num_iterations
    # TRL recomputes old log-probs only when a rollout outlives an optimizer step (grpo_trainer.py).
    off_policy = args.gradient_accumulation_steps % generate_every != 0
    return "trainer recomputation of old log-probs at generation time", off_policy


def _dppo(args: Any, backend: str) -> dict[str, Any]:
    if args.trust_region != "dppo_binary_tv":
        return _row(False, False, "trust_region", f"trust_region={args.trust_region}: TRL's ratio clipping (epsilon={args.epsilon})")
    reference, can_differ = _behaviour_logprobs(args, backend)
    params = {"delta": args.dppo_delta, "ratio_cap": getattr(args, "dppo_ratio_cap", None), "reference": reference}
    if not can_differ:
        why = (
            "on-policy: the reference is the trainer's recomputation of the policy being trained "
            f"(num_iterations={args.num_iterations}, steps_per_generation={args.steps_per_generation} = "
            f"gradient_accumulation_steps={args.gradient_accumulation_steps}), so old = new and the mask never acts; "
            "use num_iterations > 1, steps_per_generation > gradient_accumulation_steps or an engine's behaviour log-probs"
        )
        return _row(False, True, "trust_region", why, **params)
    return _row(True, True, "trust_region", f"binary-TV mask |p - p_old| <= {args.dppo_delta} replaces clipping", **params)


def _advantages(args: Any) -> dict[str, Any]:
    if args.advantage_estimator == "maxrl":
        return _row(True, True, "advantage_estimator", "MaxRL: (r - mean) / mean per group", estimator="maxrl")
    return _row(True, True, "advantage_estimator", f"TRL GRPO: r - mean, scale_rewards={args.scale_rewards}",
                estimator="grpo", scale_rewards=args.scale_rewards)


def _dynamic_sampling(args: Any, num_processes: int) -> dict[str, Any]:
    spread_on = "reward + length bonus" if args.length_bonus_c > 0 else "reward (after the degeneracy gate)"
    if not args.dynamic_sampling:
        return _row(False, False, "dynamic_sampling", "dynamic_sampling=false", refill=False)
    refills = args.dynamic_sampling_max_refills
    active = True
    if refills:
        ranks = f", in lockstep on {num_processes} processes" if num_processes > 1 else ""
        why = f"zero-spread groups are refilled from fresh prompts (<= {refills} rounds{ranks})"
    elif args.loss_type not in _MASK_FREE_NORMALISERS:
        why = f"zero-spread groups are masked (dynamic_sampling_max_refills=0): loss_type={args.loss_type} then averages over the rest"
    else:
        # A zero-spread group's advantages are 0, so its policy-gradient term is 0 masked or not; this
        # normaliser does not count the mask, so masking removes only the group's additive terms.
        extra = [t for t, on in (("KL", args.beta > 0), ("entropy bonus", args.entropy_coef != 0 or args.use_adaptive_entropy)) if on]
        active = bool(extra)
        if active:
            why = (f"zero-spread groups are masked (dynamic_sampling_max_refills=0); under loss_type={args.loss_type} that "
                   f"removes only their {' and '.join(extra)} term (an all-zero batch then has none)")
        else:
            why = (f"with dynamic_sampling_max_refills=0 and loss_type={args.loss_type}, masking a zero-spread group changes "
                   "no gradient (its advantages are 0 and the normaliser ignores the mask); set dynamic_sampling_max_refills "
                   "> 0 or dynamic_sampling: false")
    return _row(active, True, "dynamic_sampling", why, spread_on=spread_on, refill=refills > 0)


def _length_bonus(args: Any) -> dict[str, Any]:
    c = args.length_bonus_c
    if c <= 0:
        return _row(False, False, "length_bonus_c", "length_bonus_c=0", c=c)
    gates = ["correct rollout", "group solve rate p > 1/G"]
    if getattr(args, "length_bonus_acc_tolerance", None) is not None:
        gates.append(f"p > running max p*_s - {args.length_bonus_acc_tolerance} per source")
    return _row(True, True, "length_bonus_c", "c*p*m*lambda added to the advantage numerator", c=c,
                tolerance=args.length_bonus_tolerance, gates=gates)


def _optimizer(args: Any) -> dict[str, Any]:
    name = getattr(args, "optimizer", "adamw")
    if name != "muon":
        return _row(True, True, "optimizer", f"transformers' optim={getattr(args.optim, 'value', args.optim)}", optimizer=name)
    optim = str(getattr(args.optim, "value", args.optim))
    if optim not in _TORCH_ADAMW:  # the AdamW half is torch.optim.AdamW; another `optim` would be ignored
        return _row(False, True, "optim", f"optim={optim} would be ignored: optimizer=muon uses torch AdamW beside Muon",
                    optimizer="muon")
    if args.deepspeed:
        return _row(False, True, "optimizer", "Muon orthogonalises whole 2-D weights; DeepSpeed ZeRO flattens them into "
                    "1-D partitions", optimizer="muon")
    fsdp = _fsdp_version(args)
    if fsdp == 1:
        return _row(False, True, "optimizer", "Muon orthogonalises whole 2-D weights; FSDP1 flattens them into 1-D flat "
                    "parameters (FSDP2, fsdp_config version 2, keeps them 2-D)", optimizer="muon")
    how = ("; FSDP2: each sharded matrix's update is gathered whole once per step, orthogonalised on every rank, and "
           "each rank applies its own shard" if fsdp == 2 else "")
    return _row(True, True, "optimizer", "Muon (momentum 0, match_rms_adamw LR) on 2-D weight matrices; AdamW on embeddings, "
                f"LM head, norms, biases and 3-D expert stacks (torch Muon is 2-D only){how}", optimizer="muon",
                momentum=0.0, adjust_lr_fn="match_rms_adamw")


def _fsdp_version(args: Any) -> int | None:
    """FSDP version the Trainer will use (transformers' default is 2), None without FSDP."""
    if not args.fsdp:
        return None
    return int((args.fsdp_config or {}).get("version", 2))


def recipe_in_effect(
    args: Any, model_type: str | None, generation: dict[str, Any] | None = None, *, num_processes: int = 1
) -> dict[str, dict[str, Any]]:
    """One row per recipe switch for a resolved CascadeGRPOConfig (``model_type`` None = unknown)."""
    backend = _backend(args, generation)
    rows = {
        "router_replay": _router_replay(args, model_type, backend),
        "dppo": _dppo(args, backend),
        "advantage_estimator": _advantages(args),
        "aggregation": _row(True, True, "loss_type", _AGGREGATION.get(args.loss_type, f"TRL loss_type={args.loss_type}"),
                            loss_type=args.loss_type),
        "dynamic_sampling": _dynamic_sampling(args, num_processes),
        "length_bonus": _length_bonus(args),
        "degeneracy_gate": _row(bool(args.degeneracy_gate), bool(args.degeneracy_gate), "degeneracy_gate",
                                "reward 0 below the compression ratio" if args.degeneracy_gate else "degeneracy_gate=false",
                                min_ratio=args.degeneracy_min_ratio, chunk_bytes=args.degeneracy_chunk_bytes),
        "kl": _row(args.beta > 0, args.beta > 0, "beta", f"KL to the reference, beta={args.beta}" if args.beta > 0
                   else "beta=0: no KL term, no reference model", beta=args.beta),
        "optimizer": _optimizer(args),
    }
    allowed = set(getattr(args, "allow_inactive", None) or [])
    for name, row in rows.items():
        if row["requested"] and not row["active"] and name in allowed:
            row["why"] += " (allowed by allow_inactive)"
        elif name in allowed:
            row["why"] += " (listed in allow_inactive, not needed here)"
    return rows


def inactive_problems(rows: dict[str, dict[str, Any]], allow_inactive: list[str] | None) -> list[tuple[str, str]]:
    """``(key, message)`` for each requested switch that cannot apply and is not in ``allow_inactive``."""
    allowed = list(allow_inactive or [])
    problems = [("allow_inactive", f"unknown switch {n!r} (switches: {', '.join(SWITCHES)})") for n in allowed if n not in rows]
    for name, row in rows.items():
        if row["requested"] and not row["active"] and name not in allowed:
            problems.append((row["key"], f"{name} cannot apply: {row['why']} (or list {name!r} in allow_inactive)"))
    return problems


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """The rows as a plain aligned table (one line per switch) for logs."""
    lines = []
    for name, row in rows.items():
        state = "on " if row["active"] else ("OFF" if row["requested"] else "off")
        params = ", ".join(f"{k}={v}" for k, v in row.items() if k not in {"active", "requested", "key", "why"})
        lines.append(f"  {name:<20} {state}  {row['why']}" + (f"  [{params}]" if params else ""))
    return "recipe in effect:\n" + "\n".join(lines)


def log_recipe_in_effect(rows: dict[str, dict[str, Any]], stage: str, stream: TextIO | None = None) -> None:
    """Write the table at stage start (stderr: it shows in the driver and in Ray worker logs alike),
    then a logging warning per allowed-inactive switch."""
    print(f"[{stage}] {format_table(rows)}", file=stream or sys.stderr, flush=True)
    for name, row in rows.items():
        if row["requested"] and not row["active"]:
            log.warning("stage %s: %s is inactive (allow_inactive): %s", stage, name, row["why"])
