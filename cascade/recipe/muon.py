"""Muon for the weight matrices, AdamW for the rest (ZAYA1 report §IV-B1), as one Trainer optimizer.

The report trains with Muon at momentum 0. ``torch.optim.Muon`` orthogonalises 2-D parameters only,
so the split is by shape and role: every trainable 2-D weight that is not the token embedding or the
LM head goes to Muon; embeddings, LM head, norms, biases, router biases, scalars and the 3-D expert
stacks of transformers' ZAYA (``experts.gate_up_proj``: experts x out x in) go to AdamW. Muon's
``adjust_lr_fn="match_rms_adamw"`` scales each matrix's step to AdamW's update RMS, so one learning
rate (and the Trainer's one scheduler) serves both. With LoRA only adapters have ``requires_grad``:
lora_A / lora_B are 2-D and go to Muon.

Under FSDP2 every parameter is a DTensor (sharded on dim 0 by default). torch 2.13's Muon runs on
it through DTensor's op dispatch, so its Newton-Schulz multiplies shards: 11 to 16 collectives per
matrix per step (bf16 partial-sum all-reduces or all-gathers) and results that differ from the
whole-matrix ones by bf16 rounding. ``FullMatrixMuon`` gathers each sharded update once,
orthogonalises the whole matrix with torch's own Newton-Schulz on every rank and keeps that rank's
shard: the numbers unsharded Muon gives (tests/test_muon_fsdp.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.optim._muon import _adjust_lr, _zeropower_via_newtonschulz
from torch.optim.optimizer import _to_scalar

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


def orthogonalise_whole(update: Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float) -> Tensor:
    """torch's Newton-Schulz on the whole matrix; a DTensor comes back as this rank's shard of it.

    The gather is in bf16, the dtype torch's iteration starts from, so it moves half the bytes and
    changes no number. Every rank computes the same whole result and keeps its own part (no scatter)."""
    if not isinstance(update, DTensor):
        return _zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    whole = update.bfloat16().full_tensor()
    ortho = _zeropower_via_newtonschulz(whole, ns_coefficients, ns_steps, eps)
    return distribute_tensor(ortho, update.device_mesh, update.placements, src_data_rank=None)


class FullMatrixMuon(torch.optim.Muon):
    """``torch.optim.Muon`` that orthogonalises FSDP2-sharded (DTensor) matrices whole.

    Without a DTensor parameter ``step`` is torch's own. With one, each parameter takes torch's
    rule (momentum buffer, decoupled weight decay, ``_adjust_lr`` on the global shape) with the
    Newton-Schulz step done by ``orthogonalise_whole``; the elementwise parts, the momentum buffer
    included, stay sharded."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if not any(isinstance(p, DTensor) for g in self.param_groups for p in g["params"]):
            return super().step(closure)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            bufs: list[Tensor] = []
            self._init_group(group, params, grads, bufs)
            lr, momentum, weight_decay = _to_scalar(group["lr"]), group["momentum"], group["weight_decay"]
            for param, grad, buf in zip(params, grads, bufs):
                buf.lerp_(grad, 1 - momentum)
                update = grad.lerp(buf, momentum) if group["nesterov"] else buf
                ortho = orthogonalise_whole(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
                param.mul_(1 - lr * weight_decay)
                param.add_(ortho, alpha=-_adjust_lr(lr, group["adjust_lr_fn"], param.shape))
        return loss


class MuonWithAdamW(torch.optim.Optimizer):
    """One optimizer over two torch optimizers, so the Trainer's scheduler, clipping and checkpoints
    see a single object: ``param_groups`` are the inner optimizers' own group dicts (a scheduler
    setting ``lr`` sets it for both; accelerate swapping in FSDP2's sharded parameters swaps them
    for both). ``state_dict`` is torch's flat format (groups in ``param_groups`` order, state by
    parameter index), which torch.distributed.checkpoint needs to save and load it under FSDP2."""

    def __init__(self, inner: dict[str, torch.optim.Optimizer]) -> None:
        self.inner = inner
        groups = [g for opt in inner.values() for g in opt.param_groups]
        super().__init__(groups, defaults={})  # the same dicts: no copy of any hyperparameter

    @property
    def state(self) -> dict[Tensor, dict[str, Any]]:  # type: ignore[override]
        """The inner optimizers' per-parameter state, merged into a new dict (each parameter is in one
        of them). Not a ChainMap: looking up a parameter in the first inner ``defaultdict`` would
        create an empty entry there and hide the second one's state."""
        return {p: s for opt in self.inner.values() for p, s in opt.state.items()}

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

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Each inner optimizer loads its groups (and their parameters' state) from the flat dict;
        ``param_groups`` then points at the groups torch's loading created."""
        flat = "param_groups" in state_dict  # else {"muon": ..., "adamw": ...}, as checkpoints before the flat format
        parts = self._split(state_dict) if flat else state_dict
        if set(parts) != set(self.inner):
            raise ValueError(f"optimizer state has parts {sorted(parts)}, this optimizer {sorted(self.inner)}")
        for name, opt in self.inner.items():
            opt.load_state_dict(parts[name])
        self.param_groups[:] = [g for opt in self.inner.values() for g in opt.param_groups]

    def _split(self, state_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The flat dict cut into the inner optimizers' parts: their groups are consecutive in it."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(saved)} parameter groups, this optimizer {len(self.param_groups)}")
        parts, start = {}, 0
        for name, opt in self.inner.items():
            groups = saved[start:start + len(opt.param_groups)]
            start += len(groups)
            keys = {k for g in groups for k in g["params"]}
            parts[name] = {"state": {k: v for k, v in state_dict["state"].items() if k in keys}, "param_groups": groups}
        return parts


def build_muon_optimizer(model: nn.Module, args: Any, decay_parameter_names: Iterable[str]) -> MuonWithAdamW:
    """Muon (momentum 0, RMS-matched LR) + AdamW with the TrainingArguments' lr, betas, eps, weight decay."""
    muon_params, adamw_named = split_parameters(model)
    decay = set(decay_parameter_names)
    inner: dict[str, torch.optim.Optimizer] = {}
    if muon_params:
        inner["muon"] = FullMatrixMuon(
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
