"""Trainer weights -> engines: a plain (LoRA-merged) CPU state dict, pushed through Ray's object store.

``WeightSyncCallback`` pushes after every ``sync_every`` optimizer steps; the new version is the
trainer's ``global_step``, so a rollout's lag is ``global_step_at_use - weight_version``.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import TrainerCallback


def policy_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """The weights an engine loads: LoRA adapters merged into the base weights, adapter keys dropped.

    The merge is undone afterwards, so the trainer keeps training its adapter.
    """
    if hasattr(model, "merge_adapter") and hasattr(model, "get_base_model"):
        model.merge_adapter()
        try:
            raw = model.get_base_model().state_dict()
            state = {k.replace(".base_layer.", "."): v.detach().to("cpu", copy=True) for k, v in raw.items() if "lora_" not in k}
        finally:
            model.unmerge_adapter()
        return state
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class WeightSyncCallback(TrainerCallback):
    """After every ``sync_every`` optimizer steps, hand the trainer's weights to the rollout producer."""

    def __init__(self, producer: Any, sync_every: int) -> None:
        if sync_every < 1:
            raise ValueError(f"sync_every must be >= 1, got {sync_every}")
        self.producer = producer
        self.sync_every = sync_every
        self.seconds = 0.0

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None or state.global_step % self.sync_every != 0:
            return
        started = time.perf_counter()
        unwrapped = getattr(model, "module", model)
        self.producer.update_weights(policy_state_dict(unwrapped), state.global_step)
        self.seconds += time.perf_counter() - started
