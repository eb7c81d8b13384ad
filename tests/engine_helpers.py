"""Shared pieces of the rollout-engine tests: a tiny GRPO trainer fed by engines or by itself."""

from __future__ import annotations

import json
from typing import Any

from datasets import IterableDataset

from cascade.config import GenerationSettings
from cascade.policy import build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer
from envs import Task


class CountingStream:
    """A task stream: task i asks for ``i % 7`` plus ``i % 5``; counts draws."""

    def __init__(self) -> None:
        self.drawn = 0

    def next_task(self) -> Task:
        i, self.drawn = self.drawn, self.drawn + 1
        return Task(prompt=f"what is {i % 7} plus {i % 5}", verifier="math", payload={"i": i}, env_id="t", difficulty=0, seed=i)

    def rows(self) -> IterableDataset:
        def gen():
            while True:
                t = self.next_task()
                yield {"prompt": [{"role": "user", "content": t.prompt}], "task": t.to_json()}

        return IterableDataset.from_generator(gen)


def length_reward(completions: list[Any], task: list[str], **_: Any) -> list[float]:
    """Depends on the text and the task, so advantages are non-zero and tasks matter."""
    return [float((len(c[0]["content"]) + json.loads(t)["payload"]["i"]) % 3) / 2 for c, t in zip(completions, task)]


def grpo_args(tmp_path, **overrides: Any) -> CascadeGRPOConfig:
    base = dict(
        output_dir=str(tmp_path), max_steps=3, num_generations=4, per_device_train_batch_size=8,
        max_completion_length=6, report_to="none", use_cpu=True, logging_steps=1, save_strategy="no", seed=0,
        learning_rate=1e-2, beta=0.0, bf16=False,
    )
    return CascadeGRPOConfig(**{**base, **overrides})


def make_trainer(tmp_path, generation: GenerationSettings | None, **overrides: Any) -> tuple[Any, Any]:
    """(trainer, rollout) on the tiny policy; ``generation=None`` is TRL's in-process generation."""
    from cascade.generation.rollout import PLACEHOLDER_ROW, EngineGRPOTrainer
    from cascade.generation.setup import build_rollout

    model, tok = build_tiny_policy()
    stream = CountingStream()
    args = grpo_args(tmp_path, **overrides)
    if generation is None:
        return CascadeGRPOTrainer(model=model, reward_funcs=[length_reward], args=args, train_dataset=stream.rows(),
                                  processing_class=tok), None
    rollout, callbacks, _ = build_rollout(generation, model, tok, stream, args.num_generations, router_replay=True)
    data = stream.rows() if generation.max_staleness == 0 else IterableDataset.from_generator(lambda: iter(lambda: dict(PLACEHOLDER_ROW), None))
    trainer = EngineGRPOTrainer(model=model, reward_funcs=[length_reward], args=args, train_dataset=data,
                                processing_class=tok, callbacks=callbacks, rollout_func=rollout)
    return trainer, rollout


def losses(trainer: Any) -> list[float]:
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]
