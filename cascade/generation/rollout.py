"""TRL's ``rollout_func`` hook fed by the rollout producer, and the trainer subclass it needs.

``GRPOTrainer._generate`` calls ``rollout_func(prompts, trainer)`` and expects ``prompt_ids``,
``completion_ids`` and ``logprobs`` (the latter become ``sampling_per_token_logps`` in the scored
batch); every other key is merged per row into the inputs the reward functions see. We add
``weight_version`` and ``router_routes`` always, and with ``max_staleness > 0`` also ``task`` and
``prompt``: the buffer decides which tasks are trained (the train dataset is then a stream of
placeholders), so each row's task must be the buffered group's own. Verification still runs in
the trainer's reward functions (not yet in the rollout pipeline).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from trl.trainer.utils import pad

from cascade.generation.engine import Completion, SamplingParams
from cascade.generation.producer import RolloutProducer
from cascade.recipe import CascadeGRPOTrainer

PLACEHOLDER_ROW = {"prompt": [{"role": "user", "content": ""}], "task": "{}"}


class EngineRollout:
    """``rollout_func`` for GRPOTrainer: completions from engine actors, staleness logged every call."""

    def __init__(self, producer: RolloutProducer, max_staleness: int) -> None:
        self.producer = producer
        self.max_staleness = max_staleness
        self.consumed_lags: list[int] = []  # every consumed completion's version lag (tests, benchmark)
        self.consumed_versions: list[int] = []

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        step = int(trainer.state.global_step)
        if self.producer.tokenize is None:  # tokenize and sample exactly as TRL would in-process
            self.producer.tokenize = lambda ps: trainer._tokenize_prompts(ps)[0]
        if self.producer.sampling is None:
            self.producer.sampling = SamplingParams.from_trainer(trainer)
        extra: dict[str, Any] = {}
        if self.max_staleness == 0 or not trainer.model.training:  # eval samples its own prompts, on the last sync
            prompt_ids = trainer._tokenize_prompts(prompts)[0]
            rng = torch.get_rng_state() if trainer.accelerator.device.type == "cpu" else None
            completions, rng_after = self.producer.generate_on_policy(prompt_ids, rng)
            if rng_after is not None:
                torch.set_rng_state(rng_after)
        else:
            groups = self.producer.take(len(prompts) // trainer.num_generations, step)
            completions = [c for g in groups for c in g.completions]
            extra["task"] = [g.task for g in groups for _ in g.completions]
            extra["prompt"] = [g.prompt for g in groups for _ in g.completions]
            if all(g.verdicts is not None for g in groups):  # verified in the pipeline
                extra["verdict"] = [v for g in groups for v in g.verdicts]
        lags = [step - c.weight_version for c in completions]
        self.consumed_lags += lags
        self.consumed_versions += [c.weight_version for c in completions]
        self._log(trainer, lags)
        _hand_routes_to_trainer(trainer, completions)
        return {
            "prompt_ids": [c.prompt_ids for c in completions],
            "completion_ids": [c.token_ids for c in completions],
            "logprobs": [c.logprobs for c in completions],
            "weight_version": [c.weight_version for c in completions],
            "router_routes": [c.routes for c in completions],
            **extra,
        }

    def _log(self, trainer: Any, lags: list[int]) -> None:
        metrics = trainer._metrics["train" if trainer.model.training else "eval"]
        # TRL averages a step's values; a refill may call us twice per step, so min/max keep one running value
        metrics["generation/staleness_min"][:] = [float(min([*metrics["generation/staleness_min"], *lags]))]
        metrics["generation/staleness_max"][:] = [float(max([*metrics["generation/staleness_max"], *lags]))]
        metrics["generation/staleness_mean"].append(float(np.mean(lags)))
        for key, value in self.producer.metrics().items():
            metrics[key].append(value)

    def close(self) -> None:
        self.producer.close()


def _hand_routes_to_trainer(trainer: Any, completions: list[Completion]) -> None:
    """Give the engine's routes to CascadeGRPOTrainer in the layout its own recorder produces:
    (B, padded prompt width + completion width, layers, top_k), prompts left-padded like TRL's batch.

    Uses the trainer's rollout slots (``_rollout`` / ``_fwd_routes``), the same ones its in-process
    recording fills, so replay, telemetry and bias balancing run unchanged on engine rollouts.
    """
    if getattr(trainer, "_router", None) is None:
        return
    if any(c.routes is None for c in completions):
        trainer._rollout = trainer._fwd_routes = None
        return
    mult = trainer.pad_to_multiple_of
    prompts = pad([torch.from_numpy(c.routes[: len(c.prompt_ids)]) for c in completions], padding_value=-1, padding_side="left", pad_to_multiple_of=mult)
    tails = pad([torch.from_numpy(c.routes[len(c.prompt_ids) :]) for c in completions], padding_value=-1, padding_side="right", pad_to_multiple_of=mult)
    h_prompts = pad([torch.from_numpy(c.router_entropy[: len(c.prompt_ids)]) for c in completions], padding_value=0.0, padding_side="left", pad_to_multiple_of=mult)
    h_tails = pad([torch.from_numpy(c.router_entropy[len(c.prompt_ids) :]) for c in completions], padding_value=0.0, padding_side="right", pad_to_multiple_of=mult)
    routes = torch.cat([prompts, tails], dim=1)
    trainer._rollout = (routes, torch.cat([h_prompts, h_tails], dim=1), prompts.size(1))
    trainer._fwd_routes = routes if trainer.router_replay else None


class EngineGRPOTrainer(CascadeGRPOTrainer):
    """CascadeGRPOTrainer fed by an ``EngineRollout``: reward functions see each row's buffered prompt,
    and the engines are stopped when training ends (however it ends)."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        prompts = [inp["prompt"] for inp in inputs]  # the rollout's own prompt (merged in as an extra field)
        return super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)

    def train(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().train(*args, **kwargs)
        finally:
            self.train_seconds = time.perf_counter() - started
            close = getattr(self.rollout_func, "close", None)
            if callable(close):
                close()
