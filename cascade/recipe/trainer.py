"""CascadeGRPOTrainer: TRL's GRPOTrainer with the recipe switches of CascadeGRPOConfig.

Overrides (each calls super() and post-processes; TRL's loop and loss are not copied):
- ``_generate_single_turn``: record ZAYA routing while the rollout is generated.
- ``_calculate_rewards``: degeneracy gate on the rewards; remember rewards / ``correct`` flags.
- ``_generate_and_score_completions``: recipe advantages (MaxRL, length bonus), dynamic sampling,
  router routes attached to the batch, router telemetry and bias balancing.
- ``_get_per_token_logps_and_entropies``: router replay in every policy forward; DPPO masking.
- ``_compute_loss``: hands the batch's routes and old log-probs to the forward above.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from accelerate.utils import gather, gather_object
from datasets import IterableDataset
from trl import GRPOTrainer

from cascade.recipe import degeneracy, dynamic_sampling as ds
from cascade.recipe.advantages import grpo_advantages, maxrl_advantages
from cascade.recipe.checks import check_recipe_for_model
from cascade.recipe.config import CascadeGRPOConfig
from cascade.recipe.effect import recipe_in_effect
from cascade.recipe.length_bonus import length_bonus
from cascade.recipe.muon import build_muon_optimizer
from cascade.recipe.router_replay import RouterRecorder, align_routes
from cascade.recipe.router_telemetry import balancing_bias_step, expert_loads, routing_metrics
from cascade.recipe.trust_region import dppo_keep_mask, masked_fraction, stop_gradient_outside


class CascadeGRPOTrainer(GRPOTrainer):
    """GRPOTrainer that honours CascadeGRPOConfig's recipe switches."""

    args: CascadeGRPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.args
        if not isinstance(cfg, CascadeGRPOConfig):
            raise TypeError("CascadeGRPOTrainer needs a CascadeGRPOConfig")
        model_type = getattr(self.model.config, "model_type", "")
        problems = check_recipe_for_model(cfg, model_type, num_processes=self.accelerator.num_processes)
        if problems:
            raise ValueError("recipe config does not fit this policy: " + "; ".join(problems))
        zaya = model_type == "zaya"
        # never downgraded here: a replay that cannot apply failed above unless allow_inactive lists it
        self.router_replay = recipe_in_effect(cfg, model_type or None)["router_replay"]["active"]
        wants_routes = self.router_replay or (zaya and (cfg.router_telemetry or cfg.router_bias_update_rate > 0))
        self._router = RouterRecorder(self.accelerator.unwrap_model(self.model)) if wants_routes else None
        if cfg.trust_region == "dppo_binary_tv":  # no ratio clipping: the binary-TV mask is the trust region
            self.epsilon_low = self.epsilon_high = math.inf
        self._rollout: tuple[torch.Tensor, torch.Tensor, int] | None = None
        self._rollout_calls = 0
        self._fwd_routes: torch.Tensor | None = None
        self._dppo_old: torch.Tensor | None = None
        self._dppo_mask: torch.Tensor | None = None
        self._stash: dict[str, Any] = {}
        self._refill_iter: Iterator[dict[str, Any]] | None = None

    # ---- rollout: record routing -------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if self._router is None or self.use_vllm or self.use_transformers_continuous_batching:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        with self._router.recording():
            result = super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        self._rollout_calls += 1
        rec = self._router.recorded()
        width = max(len(p) for p in prompt_ids)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        prefill = self._router.prefill_len
        ok = rec is not None and prefill == width and self._rollout_calls == 1  # tool turns: not aligned
        self._rollout = (rec[0], rec[1], prefill) if ok else None
        self._fwd_routes = rec[0] if ok and self.router_replay else None
        return result

    # ---- rewards: degeneracy gate ------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        cfg, mode = self.args, self._mode()
        device = rewards_per_func.device
        if cfg.degeneracy_gate:
            gated = [degeneracy.is_degenerate(ids, cfg.degeneracy_min_ratio, cfg.degeneracy_chunk_bytes) for ids in completion_ids_list]
            gated_all = gather(torch.tensor(gated, dtype=torch.bool, device=device))
            rewards_per_func = rewards_per_func.masked_fill(gated_all.unsqueeze(1), 0.0)
            self._metrics[mode]["degeneracy/gated_frac"].append(gated_all.float().mean().item())
            vocab = len(self._tokenizer)
            rare = degeneracy.rare_token_fraction(completion_ids_list, vocab, cfg.rare_token_id_quantile)
            self._metrics[mode]["degeneracy/rare_token_frac"].append(gather(torch.tensor([rare], device=device)).mean().item())
        else:
            gated_all = torch.zeros(rewards_per_func.size(0), dtype=torch.bool, device=device)
        logged = self._pending_extra_logs.get("correct")
        correct = None
        if logged is not None and len(logged) == len(prompts):
            correct = torch.tensor([bool(c) for c in gather_object(list(logged))], device=device) & ~gated_all
        self._stash = {"rewards_per_func": rewards_per_func, "correct": correct}
        return rewards_per_func

    # ---- scoring: advantages, dynamic sampling, routes ---------------------------------------
    def _generate_and_score_completions(self, inputs):
        out, rewards = self._score(inputs)
        if self._mode() == "train" and self.args.dynamic_sampling:
            out = self._dynamic_sampling(out, rewards)
        return out

    def _score(self, inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], torch.Tensor]:
        """One super() generate+score call, then the recipe's per-batch post-processing."""
        self._rollout, self._rollout_calls = None, 0
        try:
            out = super()._generate_and_score_completions(inputs)
        finally:
            self._fwd_routes = None
        rewards = self._total_rewards()
        out = self._recipe_advantages(out, rewards)
        self._attach_routes(out)
        return out, rewards

    def _total_rewards(self) -> torch.Tensor:
        rpf = self._stash["rewards_per_func"]
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rpf).all(dim=1)] = torch.nan
        return rewards

    def _local_slice(self, n_local: int) -> slice:
        start = self.accelerator.process_index * n_local
        return slice(start, start + n_local)

    def _recipe_advantages(self, out: dict[str, Any], rewards: torch.Tensor) -> dict[str, Any]:
        cfg = self.args
        if cfg.advantage_estimator == "grpo" and cfg.length_bonus_c == 0.0:
            return out  # TRL's own advantages, untouched
        group = self.num_generations if self._mode() == "train" else self.num_generations_eval
        bonus = None
        if cfg.length_bonus_c > 0.0:
            lengths = gather(out["completion_mask"].sum(dim=1))
            correct = self._stash.get("correct")
            if correct is None:
                correct = torch.nan_to_num(rewards, nan=-math.inf) >= cfg.length_bonus_correct_threshold
            bonus = length_bonus(rewards, lengths, correct, group, cfg.length_bonus_c, cfg.length_bonus_tolerance)
            self._metrics[self._mode()]["length_bonus/mean"].append(bonus.mean().item())
        if cfg.advantage_estimator == "maxrl":
            adv = maxrl_advantages(rewards, group, bonus)
        else:
            adv = grpo_advantages(rewards, group, self.scale_rewards, bonus)
        out["advantages"] = adv[self._local_slice(out["advantages"].size(0))].to(out["advantages"].dtype)
        return out

    def _attach_routes(self, out: dict[str, Any]) -> None:
        rollout = self._rollout
        if rollout is None or rollout[2] != out["prompt_ids"].size(1):
            if self._router is not None:
                self._metrics[self._mode()]["router/replay_unaligned"].append(1.0)
            return
        routes, entropy, _ = rollout
        seq = out["prompt_ids"].size(1) + out["completion_ids"].size(1)
        routes = align_routes(routes, seq)
        if self.router_replay:
            out["router_routes"] = routes
        cfg, cfg_model = self.args, self.accelerator.unwrap_model(self.model).config
        valid = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1).bool() & (routes[..., 0, 0] >= 0)
        if cfg.router_telemetry:
            entropy = torch.nn.functional.pad(entropy, (0, 0, 0, max(0, seq - entropy.size(1))))[:, :seq]
            for key, value in routing_metrics(routes, entropy, valid, cfg_model.num_experts).items():
                self._metrics[self._mode()][key].append(value)
        if cfg.router_bias_update_rate > 0 and self._mode() == "train":
            loads = gather(expert_loads(routes, valid, cfg_model.num_experts).unsqueeze(0)).mean(0)
            for layer, router in enumerate(self._router.routers):
                router.balancing_biases.copy_(balancing_bias_step(router.balancing_biases, loads[layer], cfg.router_bias_update_rate))

    def _dynamic_sampling(self, out: dict[str, Any], rewards: torch.Tensor) -> dict[str, Any]:
        """Drop zero-spread groups; refill them from the train dataset up to the cap; mask what is left."""
        cfg, metrics, group = self.args, self._metrics["train"], self.num_generations
        zero = ds.zero_spread_groups(rewards, group)
        metrics["dynamic_sampling/dropped_frac"].append(zero.float().mean().item())
        refills = 0
        can_refill = self.accelerator.num_processes == 1 and ds.can_splice(out)
        while can_refill and bool(zero.any()) and refills < cfg.dynamic_sampling_max_refills:
            missing = zero.nonzero().view(-1)
            refill, refill_rewards = self._score(self._draw_groups(len(missing)))
            refills += 1
            good = (~ds.zero_spread_groups(refill_rewards, group)).nonzero().view(-1)[: len(missing)]
            if len(good) == 0:
                continue
            targets = missing[: len(good)]
            rows = (targets.unsqueeze(1) * group + torch.arange(group, device=targets.device)).view(-1)
            src = (good.unsqueeze(1) * group + torch.arange(group, device=good.device)).view(-1)
            picked = {k: v[src] for k, v in refill.items() if isinstance(v, torch.Tensor) and v.dim() > 0}
            out = ds.splice(out, rows.to(out["advantages"].device), picked, self._tokenizer.pad_token_id)
            zero[targets] = False
        metrics["dynamic_sampling/refills"].append(float(refills))
        metrics["dynamic_sampling/unfilled_frac"].append(zero.float().mean().item())
        if bool(zero.any()):
            rows_all = zero.repeat_interleave(group)
            out = ds.mask_groups(out, rows_all[self._local_slice(out["advantages"].size(0))])
        loss_mask = out["completion_mask"] * out.get("tool_mask", 1)
        out["num_items_in_batch"] = gather(loss_mask.sum()).sum()
        return out

    def _draw_groups(self, n_groups: int) -> list[dict[str, Any]]:
        """``n_groups`` fresh prompts, each repeated num_generations times (TRL's batch layout).

        They come from a second, independently shuffled pass over the train dataset (seed + 1), i.e.
        fresh draws from the same task distribution, not the next items of the trainer's own stream.
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
            return iter(data.shuffle(seed=seed, buffer_size=64))
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
        return (data[i] for i in order)

    # ---- training forward: replay + DPPO -----------------------------------------------------
    def training_step(self, model, inputs, num_items_in_batch):
        try:
            return super().training_step(model, inputs, num_items_in_batch)
        finally:  # replay stays on through backward (gradient checkpointing recomputes the forward)
            if self._router is not None:
                self._router.stop_replay()

    def _compute_loss(self, model, inputs):
        mode = self._mode()
        routes = inputs.get("router_routes") if self.router_replay else None
        if routes is not None:
            seq = inputs["prompt_ids"].size(1) + inputs["completion_ids"].size(1)
            self._router.start_replay(align_routes(routes, seq))
            self._router.flipped = self._router.replayed = 0
        dppo = self.args.trust_region == "dppo_binary_tv"
        self._dppo_old = inputs.get("old_per_token_logps") if dppo else None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._dppo_old = None
            if routes is not None and not (torch.is_grad_enabled() and model.training):
                self._router.stop_replay()  # no backward follows (eval): nothing to recompute
        if dppo:
            mask = inputs["completion_mask"] * inputs.get("tool_mask", 1)
            keep = self._dppo_mask if self._dppo_mask is not None else torch.ones_like(mask, dtype=torch.bool)
            self._metrics[mode]["dppo/masked_frac"].append(masked_fraction(keep, mask))
            self._dppo_mask = None
        if routes is not None and self._router.replayed:
            self._metrics[mode]["router/replay_flip_frac"].append(self._router.flipped / self._router.replayed)
        return loss

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, **kwargs):
        routes = self._fwd_routes
        if routes is None or self._router is None or routes.size(0) != input_ids.size(0):
            logps, entropies, aux = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, **kwargs
            )
        else:
            routes = align_routes(routes.to(input_ids.device), input_ids.size(1))
            text_only = all(v is None for v in kwargs.values() if not isinstance(v, bool))
            step = (batch_size or input_ids.size(0)) if text_only else input_ids.size(0)
            parts = []
            for s in range(0, input_ids.size(0), step):
                with self._router.replaying(routes[s : s + step]):
                    parts.append(super()._get_per_token_logps_and_entropies(
                        model, input_ids[s : s + step], attention_mask[s : s + step], logits_to_keep, **kwargs
                    ))
            logps = torch.cat([p[0] for p in parts])
            entropies = torch.cat([p[1] for p in parts]) if parts[0][1] is not None else None
            aux = torch.stack([p[2] for p in parts]).mean() if parts[0][2] is not None else None
        if self._dppo_old is not None and torch.is_grad_enabled():
            keep = dppo_keep_mask(logps, self._dppo_old, self.args.dppo_delta)
            logps = stop_gradient_outside(logps, keep)
            self._dppo_mask = keep
        return logps, entropies, aux

    def _mode(self) -> str:
        return "train" if self.model.training else "eval"

    # ---- optimizer: Muon (report §IV-B1) -----------------------------------------------------
    def create_optimizer(self, model=None):
        """``optimizer=muon``: build Muon + AdamW here; transformers' create_optimizer then keeps it."""
        if self.args.optimizer == "muon" and self.optimizer is None:
            opt_model = self.model if model is None else model
            self.optimizer = build_muon_optimizer(opt_model, self.args, self.get_decay_parameter_names(opt_model))
        return super().create_optimizer(model)
