"""Muon for the weight matrices, AdamW for the rest (ZAYA1 report §IV-B1), as one Trainer optimizer.

The report trains with Muon at momentum 0. ``torch.optim.Muon`` orthogonalises 2-D parameters only,
so the split is by shape and role: every trainable 2-D weight that is not the token embedding or the
LM head goes to Muon; embeddings, LM head, norms, biases, router biases, scalars and the 3-D expert
stacks of transformers' ZAYA (``experts.gate_up_proj``: experts x out x in) go to AdamW. Muon's
``adjust_lr_fn="match_rms_adamw"`` scales each matrix's step to AdamW's update RMS, so one learning
rate (and the Trainer's one scheduler) serves both. With LoRA only adapters have ``requires_grad``:
lora_A / lora_B are 2-D and go to Muon.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

MUON_MOMENTUM = 0.0  # report §IV-B1
ADJUST_LR_FN = "match_rms_adamw"


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[tuple[str, nn.Parameter]]]:
    """(Muon parameters, named AdamW parameters) among the trainable parameters of ``model``."""
    embeddings = [model.get_input_embeddings(), model.get_output_embeddings()]
    embedding_ids = {id(p) for m in embeddings if m is not None for p in m.parameters()}
    muon, adamw = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 2 and id(p) not in embedding_ids:
            muon.append(p)
        else:
            adamw.append((name, p))
    return muon, adamw


class MuonWithAdamW(torch.optim.Optimizer):
    """One optimizer over two torch optimizers, so the Trainer's scheduler, clipping and checkpoints
    see a single object: ``param_groups`` are the inner optimizers' own group dicts (a scheduler
    setting ``lr`` sets it for both), ``state_dict`` nests both states."""

    def __init__(self, inner: dict[str, torch.optim.Optimizer]) -> None:
        self.inner = inner
        groups = [g for opt in inner.values() for g in opt.param_groups]
        super().__init__(groups, defaults={})  # the same dicts: no copy of any hyperparameter

    @property
    def state(self) -> ChainMap:  # type: ignore[override]
        """Read-only view of the inner optimizers' per-parameter state."""
        return ChainMap(*(opt.state for opt in self.inner.values()))

    @state.setter
    def state(self, value: Any) -> None:
        if value:  # Optimizer.__init__ assigns an empty dict; real state lives in the inner optimizers
            raise TypeError("MuonWithAdamW state lives in its inner optimizers; use load_state_dict")

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.inner.values():
            opt.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {name: opt.state_dict() for name, opt in self.inner.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != set(self.inner):
            raise ValueError(f"optimizer state has parts {sorted(state_dict)}, this optimizer {sorted(self.inner)}")
        for name, opt in self.inner.items():
            opt.load_state_dict(state_dict[name])


def build_muon_optimizer(model: nn.Module, args: Any, decay_parameter_names: Iterable[str]) -> MuonWithAdamW:
    """Muon (momentum 0, RMS-matched LR) + AdamW with the TrainingArguments' lr, betas, eps, weight decay."""
    muon_params, adamw_named = split_parameters(model)
    decay = set(decay_parameter_names)
    inner: dict[str, torch.optim.Optimizer] = {}
    if muon_params:
        inner["muon"] = torch.optim.Muon(
            muon_params, lr=args.learning_rate, weight_decay=args.weight_decay, momentum=MUON_MOMENTUM,
            nesterov=False, adjust_lr_fn=ADJUST_LR_FN,
        )
    adamw_groups = [
        {"params": [p for n, p in adamw_named if n in decay], "weight_decay": args.weight_decay},
        {"params": [p for n, p in adamw_named if n not in decay], "weight_decay": 0.0},
    ]
    adamw_groups = [g for g in adamw_groups if g["params"]]
    if adamw_groups:
        inner["adamw"] = torch.optim.AdamW(
            adamw_groups, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon
        )
    if not inner:
        raise ValueError("optimizer=muon: the model has no trainable parameters")
    return MuonWithAdamW(inner)
