"""Dynamic sampling inside CascadeGRPOTrainer: drop zero-spread groups, refill them, on any number of ranks.

Every rank sees the same gathered rewards, so every rank computes the same zero-spread vector,
the same number of refill groups to draw (the most any rank is missing), and the same
assignment of good refill groups to missing ones. Each rank then splices only its own rows,
taking them from its own refill rows; nothing but TRL's own reward gather crosses ranks. This
needs each rank's generation batch to hold whole groups (CascadeGRPOConfig checks it).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import torch
from accelerate.utils import gather
from datasets import IterableDataset

from cascade.recipe import dynamic_sampling as ds

logger = logging.getLogger(__name__)


class DynamicSamplingMixin:
    """``_dynamic_sampling`` for CascadeGRPOTrainer (uses its ``_score`` and TRL's attributes)."""

    _refill_iter: Iterator[dict[str, Any]] | None = None

    def _dynamic_sampling(self, out: dict[str, Any], shaped: torch.Tensor) -> dict[str, Any]:
        """Drop zero-spread groups; refill them up to the cap; mask what is left (global logs)."""
        cfg, metrics, g = self.args, self._metrics["train"], self.num_generations
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        zero = ds.zero_spread_groups(shaped, g)  # global: one flag per group of the whole batch
        metrics["dynamic_sampling/dropped_frac"].append(zero.float().mean().item())
        n_local = out["advantages"].size(0)
        local_groups = n_local // g
        refills = 0
        can_refill = ds.can_splice(out) and n_local % g == 0 and local_groups * world == zero.numel()
        if not can_refill and cfg.dynamic_sampling_max_refills > 0 and not getattr(self, "_refill_warned", False):
            self._refill_warned = True
            extra = sorted(set(out) - ds.SPLICEABLE_KEYS)
            logger.warning("dynamic sampling cannot refill this batch (keys %s cannot be spliced); "
                           "zero-spread groups are masked instead", extra)
        while can_refill and bool(zero.any()) and refills < cfg.dynamic_sampling_max_refills:
            missing = zero.view(world, local_groups)
            k = int(missing.sum(dim=1).max())  # lockstep: every rank draws as many as the neediest
            refill, refill_shaped = self._score(self._draw_groups(k))
            refills += 1
            good = (~ds.zero_spread_groups(refill_shaped, g)).view(world, k)
            for r in range(world):  # the same assignment on every rank
                targets = missing[r].nonzero().view(-1)
                src = good[r].nonzero().view(-1)[: len(targets)]
                targets = targets[: len(src)]
                if r == rank and len(src):
                    out = self._splice_groups(out, refill, targets, src)
                zero[r * local_groups + targets] = False
        metrics["dynamic_sampling/refills"].append(float(refills))
        metrics["dynamic_sampling/unfilled_frac"].append(zero.float().mean().item())
        if bool(zero.any()):
            rows_all = zero.repeat_interleave(g)
            out = ds.mask_groups(out, rows_all[rank * n_local : (rank + 1) * n_local])
        loss_mask = out["completion_mask"] * out.get("tool_mask", 1)
        out["num_items_in_batch"] = gather(loss_mask.sum()).sum()
        return out

    def _splice_groups(self, out: dict[str, Any], refill: dict[str, Any], targets: torch.Tensor, src: torch.Tensor) -> dict[str, Any]:
        """Local groups ``targets`` of ``out`` replaced by local groups ``src`` of ``refill``."""
        g = self.num_generations
        offsets = torch.arange(g, device=targets.device)
        rows = (targets.unsqueeze(1) * g + offsets).view(-1)
        src_rows = (src.unsqueeze(1) * g + offsets.to(src.device)).view(-1)
        picked = {k: v[src_rows] for k, v in refill.items() if isinstance(v, torch.Tensor) and v.dim() > 0}
        return ds.splice(out, rows.to(out["advantages"].device), picked, self._tokenizer.pad_token_id)

    def _draw_groups(self, n_groups: int) -> list[dict[str, Any]]:
        """``n_groups`` fresh prompts, each repeated num_generations times (TRL's batch layout).

        They come from a second, independently shuffled pass over the train dataset (seed + 1), i.e.
        fresh draws from the same task distribution, not the next items of the trainer's own stream;
        rank r takes every world-th item from r, so ranks never refill with the same prompt.
        """
        rows = []
        for _ in range(n_groups):
            try:
                row = next(self._refill_iter)  # type: ignore[arg-type]
            except (StopIteration, TypeError):
                self._refill_iter = self._new_refill_iter()
                row = next(self._refill_iter)
            rows.extend(dict(row) for _ in range(self.num_generations))
        return rows

    def _new_refill_iter(self) -> Iterator[dict[str, Any]]:
        data, seed = self.train_dataset, self.args.seed + 1
        if isinstance(data, IterableDataset):
            items: Iterator[dict[str, Any]] = iter(data.shuffle(seed=seed, buffer_size=64))
        else:
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
            items = (data[i] for i in order)
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        return itertools.islice(items, rank, None, world)
