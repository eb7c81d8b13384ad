"""TRL's ``rollout_func`` hook fed by the rollout producer, and the trainer subclass it needs.

``GRPOTrainer._generate`` calls ``rollout_func(prompts, trainer)`` and expects ``prompt_ids``,
``completion_ids`` and ``logprobs`` (the latter become ``sampling_per_token_logps`` in the scored
batch); every other key is merged per row into the inputs the reward functions see. We add
``weight_version`` and ``router_routes`` always, and with ``max_staleness > 0`` also ``task`` and
``prompt``: the buffer decides which tasks are trained (the train dataset is then a stream of
placeholders), so each row's task must be the buffered group's own (and ``verdict``, when the
pipeline verified the group).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from trl.trainer.utils import pad

from cascade.distributed import all_gather_list, scatter_from_main
from cascade.generation.engine import Completion, SamplingParams
from cascade.generation.producer import RolloutProducer
from cascade.recipe import CascadeGRPOTrainer

PLACEHOLDER_ROW = {"prompt": [{"role": "user", "content": ""}], "task": "{}"}
Parts = tuple[list[Completion], dict[str, list[Any]], list[int]]  # one rank's completions, extra fields, global lags


class EngineRollout:
    """``rollout_func`` for GRPOTrainer: completions from engine actors, staleness logged every call.

    On a stage of N training workers only rank 0 holds a ``producer`` (the engines, the buffer, the
    pipeline scorer); every rank calls this in lockstep (TRL generates on every rank at once), rank 0
    samples the global batch, and each rank receives its own contiguous rows, the slice TRL's
    advantage computation expects of it. ``producer`` is None on the other ranks.
    """

    def __init__(self, producer: RolloutProducer | None, max_staleness: int, backend: str = "hf") -> None:
        self.producer = producer
        self.backend = backend  # the recipe table reads it: engines supply behaviour log-probs and routes
        self.max_staleness = max_staleness
        self.consumed_lags: list[int] = []  # this rank's consumed completions' version lags (tests, benchmark)
        self.consumed_versions: list[int] = []
        self.consumed_prompt_ids: list[list[int]] = []

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        step = int(trainer.state.global_step)
        if self.producer is not None:
            if self.producer.tokenize is None:  # tokenize and sample exactly as TRL would in-process
                self.producer.tokenize = lambda ps: trainer._tokenize_prompts(ps)[0]
            if self.producer.sampling is None:
                self.producer.sampling = SamplingParams.from_trainer(trainer)
        if self.max_staleness == 0 or not trainer.model.training:  # eval samples its own prompts, on the last sync
            parts = self._on_policy(trainer._tokenize_prompts(prompts)[0], trainer, step)
        else:
            parts = self._buffered(len(prompts), trainer, step)
        completions, extra, lags = scatter_from_main(parts)
        self.consumed_lags += [step - c.weight_version for c in completions]
        self.consumed_versions += [c.weight_version for c in completions]
        self.consumed_prompt_ids += [c.prompt_ids for c in completions]
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

    def _on_policy(self, prompt_ids: list[list[int]], trainer: Any, step: int) -> list[Parts] | None:
        """Every rank's own rows sampled now, on rank 0's engines (one rank: from the trainer's RNG stream)."""
        per_rank = all_gather_list([prompt_ids])
        if self.producer is None:
            return None
        single_cpu = len(per_rank) == 1 and trainer.accelerator.device.type == "cpu"
        rng = torch.get_rng_state() if single_cpu else None
        completions, rng_after = self.producer.generate_on_policy([p for part in per_rank for p in part], rng)
        if rng_after is not None:
            torch.set_rng_state(rng_after)
        lags = [step - c.weight_version for c in completions]
        return [(completions[s], {}, lags) for s in rank_slices([len(p) for p in per_rank])]

    def _buffered(self, local_rows: int, trainer: Any, step: int) -> list[Parts] | None:
        """The global batch from the buffer (whole groups; a group may straddle two ranks, as in TRL)."""
        if self.producer is None:
            return None
        world = trainer.accelerator.num_processes
        groups = self.producer.take(world * local_rows // trainer.num_generations, step)
        completions = [c for g in groups for c in g.completions]
        extra: dict[str, list[Any]] = {
            "task": [g.task for g in groups for _ in g.completions],
            "prompt": [g.prompt for g in groups for _ in g.completions],
        }
        if all(g.verdicts is not None for g in groups):  # verified in the pipeline
            extra["verdict"] = [v for g in groups for v in g.verdicts]
        lags = [step - c.weight_version for c in completions]
        return [(completions[s], {k: v[s] for k, v in extra.items()}, lags) for s in rank_slices([local_rows] * world)]

    def _log(self, trainer: Any, lags: list[int]) -> None:
        """Staleness of the whole global batch (every rank logs the same); engine metrics from rank 0."""
        metrics = trainer._metrics["train" if trainer.model.training else "eval"]
        # TRL averages a step's values; a refill may call us twice per step, so min/max keep one running value
        metrics["generation/staleness_min"][:] = [float(min([*metrics["generation/staleness_min"], *lags]))]
        metrics["generation/staleness_max"][:] = [float(max([*metrics["generation/staleness_max"], *lags]))]
        metrics["generation/staleness_mean"].append(float(np.mean(lags)))
        for key, value in (self.producer.metrics() if self.producer is not None else {}).items():
            metrics[key].append(value)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close()



def rank_slices(sizes: list[int]) -> list[slice]:
    """Contiguous slices of a concatenation of parts of ``sizes``, in rank order."""
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _hand_routes_to_trainer(trainer: Any, completions: list[Completion]) -> None:
    """Give the engine's routes to CascadeGRPOTrainer in the layout its own recorder produces:
    (B, padded prompt width + completion width, layers, top_k), prompts left-padded like TRL's batch.

    Fills the trainer's per-call ``RolloutState`` (``cascade/recipe/batch_state.py``), the object its
    in-process recording fills, so replay, telemetry and bias balancing run unchanged on engine rollouts.
    """
    state = getattr(trainer, "_rollout_state", None)
    if getattr(trainer, "_router", None) is None or state is None:
        return
    state.generate_calls += 1
    if any(c.routes is None for c in completions) or state.generate_calls > 1:
        state.routes, state.entropy, state.prefill, state.replay_forward = None, None, 0, False
        return
    mult = trainer.pad_to_multiple_of

    def padded(parts: list[np.ndarray], value: float, side: str) -> torch.Tensor:
        return pad([torch.tensor(p) for p in parts], padding_value=value, padding_side=side, pad_to_multiple_of=mult)

    heads = padded([c.routes[: len(c.prompt_ids)] for c in completions], -1, "left")
    tails = padded([c.routes[len(c.prompt_ids) :] for c in completions], -1, "right")
    # a backend without router entropy (vllm) reports 0 entropy in telemetry; routes are what replay needs
    ents = [c.router_entropy if c.router_entropy is not None else np.zeros(c.routes.shape[:2], np.float32) for c in completions]
    h_heads = padded([e[: len(c.prompt_ids)] for e, c in zip(ents, completions)], 0.0, "left")
    h_tails = padded([e[len(c.prompt_ids) :] for e, c in zip(ents, completions)], 0.0, "right")
    state.routes, state.entropy = torch.cat([heads, tails], dim=1), torch.cat([h_heads, h_tails], dim=1)
    state.prefill, state.replay_forward = heads.size(1), bool(trainer.router_replay)


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
