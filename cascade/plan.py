"""``cascade plan``: each stage's resolved layout and batch arithmetic, without Ray or a model.

The numbers come from the same TRL args the runner builds (``trainer_config.trainer_layers`` plus
its fixed settings); only the world size differs: the args are built in this one process
(world size 1), so the global batch is recomputed for ``resources.num_workers`` exactly as
``GRPOConfig.__post_init__`` does on the workers (generation batch = per-device batch x
world x steps per generation; TRL counts ``per_device_train_batch_size`` in completions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cascade.config import CascadeConfig, ConfigError, RewardSpec, StageConfig
from cascade.trainer_config import build_trainer_args, merge_layers
from cascade.recipe.stage_recipe import stage_recipe
from stages import get_stage_kind


def _args(cfg: CascadeConfig, stage: StageConfig) -> tuple[Any, dict[str, Any]]:
    import warnings

    import torch

    from cascade.runner import _fixed_args, grpo_fixed_args
    from cascade.trainer_config import trainer_layers

    kind = get_stage_kind(stage.kind)
    fixed = grpo_fixed_args(Path(".")) if kind.trainer == "grpo" else _fixed_args(Path("."))
    layers = trainer_layers(cfg, kind, stage)
    raw = merge_layers(kind.trainer, layers, **fixed)
    if stage.resources.gpu and not torch.cuda.is_available():
        fixed = {**fixed, "use_cpu": True}  # planning a GPU stage here: TRL's device checks would refuse bf16
    with warnings.catch_warnings():  # deprecation chatter of TrainingArguments; the runner shows it once
        warnings.simplefilter("ignore")
        return build_trainer_args(kind.trainer, layers, "plan", seed=cfg.seed, **fixed), raw


def sharding(args: Any, world: int) -> str:
    """The strategy accelerate will use: FSDP / DeepSpeed from the trainer section, else DDP."""
    if args.fsdp:
        conf = args.fsdp_config or {}
        wrap = conf.get("transformer_layer_cls_to_wrap") or conf.get("auto_wrap_policy") or "default wrap"
        return f"fsdp{conf.get('version', 2)} ({', '.join(wrap) if isinstance(wrap, list) else wrap})"
    if args.deepspeed:
        return f"deepspeed ({args.deepspeed if isinstance(args.deepspeed, str) else 'inline config'})"
    return "ddp" if world > 1 else "none (one worker)"


def grpo_batch(args: Any, raw: dict[str, Any], world: int, where: str) -> dict[str, Any]:
    """Global GRPO batch arithmetic at world size ``world`` (TRL's rules, recomputed)."""
    pd, ga, g = args.per_device_train_batch_size, args.gradient_accumulation_steps, args.num_generations
    gbs, spg = raw.get("generation_batch_size"), raw.get("steps_per_generation")
    if gbs is None:
        spg = spg if spg is not None else ga
        gbs = pd * world * spg
    elif gbs % (pd * world):
        raise ConfigError(f"{where}: generation_batch_size {gbs} is not a multiple of the global batch {pd} x {world} workers")
    else:
        spg = gbs // (pd * world)
    if gbs % g:
        raise ConfigError(f"{where}: generation batch {gbs} (= {pd} x {world} workers x {spg}) is not a multiple of num_generations {g}")
    completions = pd * world * ga
    return {
        "completions_per_step": completions,
        "prompts_per_step": completions // g if completions % g == 0 else completions / g,
        "generations_per_prompt": g,
        "generation_batch_size": gbs,
        "steps_per_generation": spg,
        "prompts_per_generation": gbs // g,
    }


def generation_placement(args: Any, stage: StageConfig) -> str:
    gen = stage.generation
    if gen.has_engines:
        workers = stage.resources.num_workers
        shared = f", shared by the {workers} training workers (rank 0 hands each its rows)" if workers > 1 else ""
        each = f"{{GPU: {gen.num_gpus:g}, CPU: {gen.num_cpus:g}}}" if gen.num_gpus else f"{{CPU: {gen.num_cpus:g}}}"
        return (f"{gen.backend} rollout engine: {gen.workers} Ray actor(s) of {each} apart from training{shared}, "
                f"max_staleness {gen.max_staleness}, weights synced every {gen.sync_every} step(s)")
    if getattr(args, "use_vllm", False):
        if args.vllm_mode == "colocate":
            return "vllm colocate: an engine inside each training worker, on its GPU(s)"
        url = getattr(args, "vllm_server_base_url", None)
        return f"vllm server at {url or f'{args.vllm_server_host}:{args.vllm_server_port}'}"
    device = "its GPU" if stage.resources.gpu else "CPU"
    return f"hf generate inside each training worker, on {device}"


def reward_model_placement(cfg: CascadeConfig, stage: StageConfig) -> str | None:
    kind = get_stage_kind(stage.kind)
    specs = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in kind.rewards]
    for spec in specs:
        if spec.name == "reward_model":
            gpus, cpus = float(spec.options.get("num_gpus", 0)), float(spec.options.get("num_cpus", 0))
            n = stage.resources.num_workers
            path = spec.options.get("path", "tiny")
            shared = f", shared by the {n} training workers" if n > 1 else ""
            return f"{path}: 1 Ray actor of {{GPU: {gpus:g}, CPU: {cpus:g}}}{shared}"
    return None


def rsa_refresh_summary(stage: StageConfig) -> str | None:
    """What an ``rsa:`` block does (cascade/rsa_refresh.py), or None when the candidates stay a fixed file."""
    r = stage.rsa
    if r is None:
        return None
    engines = stage.generation.has_engines
    workers = stage.resources.num_workers
    per_rank = f", {r.num_problems // workers} per worker" if workers > 1 and not engines else ""
    source = f"the stage's {stage.generation.backend} engines" if engines else "in-process hf engine"
    return (f"on-policy, refreshed at start and every {r.refresh_every} steps: {r.num_problems} problems{per_rank} x "
            f"n={r.n} rollouts (<= {r.budget} tokens), c={r.c} tails of tau={r.tau} tokens per prompt, {source}")


def plan_stage(cfg: CascadeConfig, index: int) -> dict[str, Any]:
    stage = cfg.stages[index]
    kind = get_stage_kind(stage.kind)
    where = f"stages[{index}].trainer ({stage.name})"
    try:
        args, raw = _args(cfg, stage)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    res, world = stage.resources, stage.resources.num_workers
    if cfg.policy.lora.enabled and (args.fsdp or args.deepspeed):
        raise ConfigError(f"{where}: policy.lora with fsdp/deepspeed is not supported: the final checkpoint must be a merged HF model")
    out: dict[str, Any] = {
        "name": stage.name,
        "kind": stage.kind,
        "trainer": kind.trainer,
        "train_workers": world,
        "cpus_per_worker": res.worker_cpus,
        "gpus_per_worker": res.worker_gpus,
        "backend": "nccl" if res.gpu else "gloo",
        "sharding": sharding(args, world),
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "max_steps": args.max_steps,
        "save_total_limit": args.save_total_limit,
        "keep_checkpoints": stage.keep_checkpoints if stage.keep_checkpoints is not None else cfg.keep_checkpoints,
    }
    if kind.trainer == "grpo":
        out.update(grpo_batch(args, raw, world, where))
        out["max_completion_length"] = args.max_completion_length
        out["generation"] = generation_placement(args, stage)
        out["reward_model"] = reward_model_placement(cfg, stage)
        out["rsa_refresh"] = rsa_refresh_summary(stage)
        out["recipe"] = stage_recipe(cfg, stage, num_processes=world)
    else:
        samples = args.per_device_train_batch_size * world * args.gradient_accumulation_steps
        out.update({"samples_per_step": samples, "prompts_per_step": samples, "generations_per_prompt": None})
        out["generation"] = None
        out["reward_model"] = None
    return out


def plan(cfg: CascadeConfig) -> dict[str, Any]:
    """Every stage's plan, in order; a stage whose batch arithmetic cannot work raises ConfigError."""
    return {"run_dir": cfg.run_dir, "stages": [plan_stage(cfg, i) for i in range(len(cfg.stages))]}
