"""Trainer weights -> engines: a plain (LoRA-merged) CPU state dict, pushed through Ray's object store.

``WeightSyncCallback`` pushes after every ``sync_every`` optimizer steps; the new version is the
trainer's ``global_step``, so a rollout's lag is ``global_step_at_use - weight_version``.

On a multi-worker stage rank 0 owns the engines. Under DDP every rank holds the whole model and
rank 0 alone reads it; under FSDP2 the parameters are DTensor shards, so every rank takes part in
gathering the full state dict (torch's ``get_model_state_dict``), which lands on rank 0 only.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import TrainerCallback


def is_sharded(model: Any) -> bool:
    """Whether ``model``'s parameters are FSDP2 (DTensor) shards."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def policy_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """The weights an engine loads: LoRA adapters merged into the base weights, adapter keys dropped.

    The merge is undone afterwards, so the trainer keeps training its adapter. A sharded (FSDP2)
    model is gathered whole: a collective every rank must enter; rank 0 gets the dict, others ``{}``.
    """
    if is_sharded(model):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
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
    """After every ``sync_every`` optimizer steps, hand the trainer's weights to the rollout producer.

    ``producer`` is None on the ranks that own no engines: they only join a sharded model's gather.
    """

    def __init__(self, producer: Any, sync_every: int) -> None:
        if sync_every < 1:
            raise ValueError(f"sync_every must be >= 1, got {sync_every}")
        self.producer = producer
        self.sync_every = sync_every
        self.seconds = 0.0

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None or state.global_step % self.sync_every != 0:
            return
        unwrapped = getattr(model, "module", model)
        if self.producer is None and not is_sharded(unwrapped):
            return
        started = time.perf_counter()
        weights = policy_state_dict(unwrapped)
        if self.producer is not None:
            self.producer.update_weights(weights, state.global_step)
        self.seconds += time.perf_counter() - started
