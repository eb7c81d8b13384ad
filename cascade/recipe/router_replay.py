"""Router replay for ZAYA: record each token's expert class during the rollout, reuse it in training.

ZayaRouter picks top-k of softmax(logits) + balancing_biases over E experts plus a skip class
(index E), then hides the skip (prob 0, index 0) before the experts run. Small numeric drift
between the generation pass (KV cache, different batch shapes) and the training pass, or a
policy update between them, can flip that choice; the gradient then flows through experts that
never produced the rollout. Replay pins the choice and keeps the gate probability differentiable.

Routes are int16 tensors (batch, seq, layers, top_k) of class ids in [0, E] (E = skip); -1 marks
a position without a record (e.g. the final sampled token, which generation never fed back).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def find_routers(model: nn.Module) -> list[nn.Module]:
    """ZayaRouter modules in layer order."""
    routers = [m for m in model.modules() if type(m).__name__ == "ZayaRouter"]
    return sorted(routers, key=lambda m: m.layer_idx)


def router_classes(logits: torch.Tensor, biases: torch.Tensor, top_k: int) -> torch.Tensor:
    """The class ids ZayaRouter.forward picks, skip included (same ops, so bit-identical)."""
    probs = torch.softmax(logits, dim=-1)
    return torch.topk(probs.detach().to(torch.float32) + biases, top_k, dim=-1).indices


def replayed_gate(
    logits: torch.Tensor, classes: torch.Tensor, num_experts: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """ZayaRouter's (probs, indices) for forced ``classes``: softmax gathered there, skip masked."""
    probs = torch.gather(torch.softmax(logits, dim=-1), -1, classes)
    skip = classes == num_experts
    return probs.masked_fill(skip, 0), classes.masked_fill(skip, 0)


def align_routes(routes: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Trim or right-pad (-1) a (B, S, L, k) route tensor to ``seq_len`` positions."""
    if routes.size(1) >= seq_len:
        return routes[:, :seq_len]
    pad = routes.new_full((routes.size(0), seq_len - routes.size(1), *routes.shape[2:]), -1)
    return torch.cat([routes, pad], dim=1)


class RouterRecorder:
    """Forward hooks on every ZayaRouter: record classes (+ entropy) or replay recorded classes."""

    def __init__(self, model: nn.Module) -> None:
        self.routers = find_routers(model)
        self.num_layers = len(self.routers)
        self._recording = False
        self._steps: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in self.routers]
        self._replay: torch.Tensor | None = None
        self.flipped = 0  # tokens whose own choice differed from the replayed one (since last reset)
        self.replayed = 0
        self._handles = [r.register_forward_hook(self._hook(i)) for i, r in enumerate(self.routers)]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record every router call (prefill, then one call per decode step) until exit."""
        self._steps = [[] for _ in self.routers]
        self._recording = True
        try:
            yield
        finally:
            self._recording = False

    def recorded(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(routes (B, S, L, k) int16, entropy (B, S, L)) concatenated over recorded calls."""
        if not self._steps or not self._steps[0]:
            return None
        if len({sum(c.size(1) for c, _ in layer) for layer in self._steps}) != 1:
            return None
        classes = torch.stack([torch.cat([c for c, _ in layer], 1) for layer in self._steps], dim=2)
        entropy = torch.stack([torch.cat([h for _, h in layer], 1) for layer in self._steps], dim=2)
        return classes.to(torch.int16), entropy

    @property
    def prefill_len(self) -> int:
        """Sequence length of the first recorded call (the padded prompt during generation); -1 if none."""
        return self._steps[0][0][0].size(1) if self._steps and self._steps[0] else -1

    @contextmanager
    def replaying(self, routes: torch.Tensor | None) -> Iterator[None]:
        """Force ``routes`` (B, S, L, k; -1 = router decides) in every forward until exit."""
        self.start_replay(routes)
        try:
            yield
        finally:
            self.stop_replay()

    def start_replay(self, routes: torch.Tensor | None) -> None:
        """Sticky form of ``replaying``: gradient checkpointing re-runs the forward during backward,
        so the training step keeps replay on until its backward is done, then calls ``stop_replay``."""
        self._replay = routes

    def stop_replay(self) -> None:
        self._replay = None

    def _hook(self, layer: int):
        def hook(module: nn.Module, args: tuple, output: tuple) -> tuple | None:
            logits_flat, _, _, next_states = output
            batch, seq = args[0].shape[:2]
            logits = logits_flat.view(batch, seq, -1)
            if self._recording:
                own = router_classes(logits, module.balancing_biases, module.top_k)
                with torch.no_grad():
                    p = torch.softmax(logits.detach().float(), -1)
                    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
                self._steps[layer].append((own.detach(), entropy))
            if self._replay is None:
                return None
            forced = self._replay[:, :, layer].to(torch.long)
            if forced.shape[:2] != (batch, seq):
                raise RuntimeError(f"router replay routes {tuple(forced.shape[:2])} do not match input {(batch, seq)}")
            own = router_classes(logits, module.balancing_biases, module.top_k)
            classes = torch.where(forced >= 0, forced, own)
            has = forced >= 0
            self.flipped += int((own != classes)[has].sum())
            self.replayed += int(has.sum())
            probs, indices = replayed_gate(logits, classes, module.num_experts)
            return logits_flat, probs.reshape(-1, module.top_k), indices.reshape(-1, module.top_k), next_states

        return hook
