"""A Ray Train worker loop for tests/test_distributed.py: one GRPO step on fixed rollouts.

Generation is the only random part of a GRPO step, so the rollouts here are a pure function
of the prompt (``rollout_func``, TRL's hook): a 1-worker and a 2-worker run of the same
global batch must then produce the same loss and gradient norm. Everything else is the
project's own path: the task stream with a curriculum as the train set, ``TaskReward``
feeding it, and the runner's fixed GRPO args (no shuffle buffer).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def _completion(tokenizer: Any, prompt: Any, j: int) -> list[int]:
    text = json.dumps(prompt, sort_keys=True)
    h = int(hashlib.sha256(f"{text}:{j}".encode()).hexdigest(), 16)
    n = 2 + h % 5
    return [4 + (h >> (8 * k)) % (len(tokenizer) - 4) for k in range(n)]


def fixed_rollouts(prompts: list[Any], trainer: Any) -> dict[str, Any]:
    tok = trainer.processing_class
    seen: dict[str, int] = {}
    prompt_ids, completion_ids = [], []
    for p in prompts:
        key = json.dumps(p, sort_keys=True)
        j = seen.get(key, 0)
        seen[key] = j + 1
        prompt_ids.append(tok.apply_chat_template(p, tokenize=True, add_generation_prompt=True, return_dict=False))
        completion_ids.append(_completion(tok, p, j))
    return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": [[0.0] * len(c) for c in completion_ids]}


def length_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """Differs inside a group (unlike a verifier on an untrained model), so the loss is not 0."""
    return [float(len(str(c)) % 7) for c in completions]


def equivalence_worker(config: dict[str, Any]) -> None:
    import torch
    from datasets import IterableDataset
    from trl import GRPOTrainer

    from cascade.config import EnvSpec
    from cascade.distributed import rank, world_size
    from cascade.policy import build_tiny_policy
    from cascade.rewards import TaskReward
    from cascade.runner import grpo_fixed_args
    from cascade.task_stream import TaskStream, task_from_json
    from cascade.trainer_config import build_trainer_args
    from envs.curriculum import make_curriculum
    from verifiers.pool import LocalVerifierPool

    torch.set_num_threads(1)
    out = Path(config["out"])
    model, tokenizer = build_tiny_policy(seed=0)
    curriculum = make_curriculum("zaya", ["arith/add"], initial_difficulty=3)
    stream = TaskStream([EnvSpec(id="arith/add")], seed=0, curriculum=curriculum)
    seen: list[int] = []

    def record(completions: list[Any], task: list[str], **kwargs: Any) -> list[float]:
        seen.extend(task_from_json(t).seed for t in task)
        return [0.0] * len(completions)

    record.__name__ = "record"
    g = 2
    args = build_trainer_args(
        "grpo",
        [{"use_cpu": True, "bf16": False}],
        str(out / "checkpoints"),
        seed=0,
        per_device_train_batch_size=config["per_device"],
        num_generations=g,
        max_completion_length=8,
        max_steps=config.get("max_steps", 1),
        learning_rate=1e-3,
        save_strategy="no",
        **{k: v for k, v in grpo_fixed_args(out).items() if k != "save_strategy"},
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[length_reward, TaskReward(LocalVerifierPool(), g, stream), record],
        args=args,
        train_dataset=IterableDataset.from_generator(lambda: iter(stream)),
        processing_class=tokenizer,
        rollout_func=fixed_rollouts,
    )
    trainer.train()
    first = next(r for r in trainer.state.log_history if "loss" in r)
    result = {
        "rank": rank(),
        "world": world_size(),
        "loss": first["loss"],
        "grad_norm": first["grad_norm"],
        "seen": seen,
        "curriculum": curriculum.state_dict(),
    }
    (out / f"rank{rank()}.json").write_text(json.dumps(result))


def engine_worker(config: dict[str, Any]) -> None:
    """GRPO runs fed by rank 0's hf engines (``config["make_trainer"]``: engine_helpers'), one per
    entry of ``config["runs"]`` (one Ray Train start-up for all); every rank records its rows."""
    import torch

    from cascade.config import GenerationSettings
    from cascade.distributed import rank

    torch.set_num_threads(1)
    out = Path(config["out"])
    (out / f"rm-rank{rank()}.json").write_text(json.dumps(_score_with_shared_reward_model(config["rm_path"])))
    for i, run in enumerate(config["runs"]):
        settings = GenerationSettings(**run["generation"])
        trainer, rollout = config["make_trainer"](out / f"{i}-r{rank()}", settings, **run["trainer"])
        filtered = _filter_on_stage_engines(settings, rollout.producer, trainer, out / f"{i}-r{rank()}") if i == 0 else None
        torch.manual_seed(0)
        trainer.train()
        logs = [h for h in trainer.state.log_history if "loss" in h]
        result = {
            "steps": trainer.state.global_step,
            "owner": rollout.producer is not None,
            "lags": rollout.consumed_lags,
            "versions": rollout.consumed_versions,
            "prompt_ids": rollout.consumed_prompt_ids,
            "logs": [{k: v for k, v in h.items() if k.startswith(("generation/", "dppo/", "router/replay"))} for h in logs],
            "filter": filtered,
        }
        (out / f"{i}-rank{rank()}.json").write_text(json.dumps(result))


def _filter_on_stage_engines(settings: Any, producer: Any, trainer: Any, path: Path) -> dict[str, Any]:
    """The pass-rate filter through the stage's engine actors: rank 0 samples every candidate."""
    from cascade.config import PassRateFilter
    from cascade.filtering import filter_by_pass_rate
    from cascade.generation.setup import stage_sampler
    from envs import Task
    from verifiers.pool import LocalVerifierPool

    path.mkdir(parents=True, exist_ok=True)
    tasks = [Task(prompt=f"what is {i} plus 1", verifier="exact", payload={"answer": str(i + 1)}, env_id="t", difficulty=0, seed=i)
             for i in range(3)]
    sampler = stage_sampler(settings, producer, trainer.model, trainer.processing_class)
    calls = sampler.actors[0].info.remote() if sampler is not None else None
    cfg = PassRateFilter(enabled=True, num_prompts=3, num_generations=2, max_new_tokens=2, max_pass=1.0)
    kept, stats = filter_by_pass_rate(sampler, trainer.processing_class, tasks, cfg, LocalVerifierPool(), path, shared=True)
    import ray

    served = None if calls is None else ray.get(sampler.actors[0].info.remote())["calls"] - ray.get(calls)["calls"]
    return {"kept": len(kept), "stats": stats, "has_sampler": sampler is not None, "engine_calls": served}


def _score_with_shared_reward_model(path: str) -> dict[str, Any]:
    """Each rank scores through the stage's reward-model actor; the ranks must hold the same one."""
    from cascade.distributed import barrier
    from cascade.rm_reward import RewardModelReward
    from verifiers.pool import LocalVerifierPool

    reward = RewardModelReward(LocalVerifierPool(), 2, None, path=path)
    prompts = [[{"role": "user", "content": "say hi"}]] * 2
    scores = reward(prompts=prompts, completions=[[{"role": "assistant", "content": "hi"}]] * 2, task=["{}"] * 2)
    actor = reward._server._actor_id.hex()
    barrier()  # both ranks scored before either stops it
    reward.close()
    return {"actor": actor, "scores": scores}
