"""CascadeGRPOTrainer: TRL's GRPOTrainer with the recipe switches of CascadeGRPOConfig.

Overrides (each calls super() and post-processes; TRL's loop and loss are not copied). Five are
private GRPOTrainer methods, overridden because TRL has no public hook at these points:
- ``_generate_single_turn``: record ZAYA routing while the rollout is generated (router replay).
- ``_calculate_rewards``: degeneracy gate on the rewards; remember rewards / ``correct`` flags.
- ``_generate_and_score_completions``: recipe advantages (MaxRL, length bonus), dynamic sampling,
  router routes attached to the batch, router telemetry and bias balancing.
- ``_compute_loss``: router replay for the training forward; the DPPO reference for the forward.
- ``_get_per_token_logps_and_entropies``: router replay in TRL's old/ref forwards; DPPO's mask and
  truncated-ratio gradient on the log-probs TRL's loss consumes.
Public: ``training_step`` (replay stays on through backward), ``train`` (restores p*_s on resume),
``create_optimizer`` (Muon + AdamW for ``optimizer=muon``). Signatures pinned: tests/test_trl_contract.py.
State between them: ``batch_state.RolloutState`` / ``LossState`` (one object per call).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather, gather_object
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOTrainer

from cascade.recipe import degeneracy, dynamic_sampling as ds
from cascade.recipe.advantages import grpo_advantages, maxrl_advantages
from cascade.recipe.batch_state import LossState, RolloutState
from cascade.recipe.checks import check_recipe_for_model
from cascade.recipe.config import CascadeGRPOConfig
from cascade.recipe.effect import recipe_in_effect
from cascade.recipe.length_bonus import length_bonus
from cascade.recipe.muon import build_muon_optimizer
from cascade.recipe.refill import DynamicSamplingMixin
from cascade.recipe.router_replay import RouterRecorder, align_routes
from cascade.recipe.router_telemetry import balancing_bias_step, expert_loads, routing_metrics
from cascade.recipe.solve_rate import SolveRateCallback, SolveRateMax, row_source
from cascade.recipe.trust_region import dppo_keep_mask, dppo_logps


class CascadeGRPOTrainer(DynamicSamplingMixin, GRPOTrainer):
    """GRPOTrainer that honours CascadeGRPOConfig's recipe switches."""

    args: CascadeGRPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.args
        if not isinstance(cfg, CascadeGRPOConfig):
            raise TypeError("CascadeGRPOTrainer needs a CascadeGRPOConfig")
        model_type = getattr(self.model.config, "model_type", "")
        backend = getattr(self.rollout_func, "backend", None)  # a rollout engine feeds this trainer
        generation = {"backend": backend} if backend else None
        problems = check_recipe_for_model(cfg, model_type, num_processes=self.accelerator.num_processes, generation=generation)
        if problems:
            raise ValueError("recipe config does not fit this policy: " + "; ".join(problems))
        zaya = model_type == "zaya"
        # never downgraded here: a replay that cannot apply failed above unless allow_inactive lists it
        self.router_replay = recipe_in_effect(cfg, model_type or None, generation)["router_replay"]["active"]
        wants_routes = self.router_replay or (zaya and (cfg.router_telemetry or cfg.router_bias_update_rate > 0))
        self._router = RouterRecorder(self.accelerator.unwrap_model(self.model)) if wants_routes else None
        if cfg.trust_region == "dppo_binary_tv":  # no ratio clipping: the binary-TV mask is the trust region
            self.epsilon_low = self.epsilon_high = math.inf
        self._rollout_state: RolloutState | None = None
        self._loss_state: LossState | None = None
        self.last_loss_state: LossState | None = None
        self.solve_rates = SolveRateMax()
        self.add_callback(SolveRateCallback(self.solve_rates))

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any) -> Any:
        """TRL's train(); on resume, p*_s (the length bonus's running maxima) comes back from the checkpoint."""
        ckpt = resume_from_checkpoint
        if ckpt is True:
            ckpt = get_last_checkpoint(self.args.output_dir)
        if ckpt:
            self.solve_rates.restore(Path(ckpt))
        return super().train(resume_from_checkpoint, *args, **kwargs)

    # ---- rollout: record routing -------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        state = self._rollout_state
        if self._router is None or state is None or self.use_vllm or self.use_transformers_continuous_batching:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        with self._router.recording():
            result = super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        state.generate_calls += 1
        rec = self._router.recorded()
        width = max(len(p) for p in prompt_ids)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        prefill = self._router.prefill_len
        ok = rec is not None and prefill == width and state.generate_calls == 1  # tool turns: not aligned
        state.routes, state.entropy, state.prefill = (rec[0], rec[1], prefill) if ok else (None, None, 0)
        state.replay_forward = ok and self.router_replay
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
        if self._rollout_state is not None:
            self._rollout_state.rewards_per_func, self._rollout_state.correct = rewards_per_func, correct
        return rewards_per_func

    # ---- scoring: advantages, dynamic sampling, routes ---------------------------------------
    def _generate_and_score_completions(self, inputs):
        out, shaped = self._score(inputs)
        if self._mode() == "train" and self.args.dynamic_sampling:
            out = self._dynamic_sampling(out, shaped)
        return out

    def _score(self, inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], torch.Tensor]:
        """One super() generate+score call, then the recipe's per-batch post-processing.

        Returns the scored batch and the gathered per-rollout r + Δr (dynamic sampling's spread).
        """
        state = self._rollout_state = RolloutState()
        try:
            out = super()._generate_and_score_completions(inputs)
            state.replay_forward = False
            rewards = self._total_rewards(state)
            out, bonus = self._recipe_advantages(out, rewards, state, inputs)
            self._attach_routes(out, state)
        finally:
            self._rollout_state = None
        return out, ds.spread_rewards(rewards, bonus)

    def _total_rewards(self, state: RolloutState) -> torch.Tensor:
        rpf = state.rewards_per_func
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)
        rewards[torch.isnan(rpf).all(dim=1)] = torch.nan
        return rewards

    def _local_slice(self, n_local: int) -> slice:
        start = self.accelerator.process_index * n_local
        return slice(start, start + n_local)

    def _recipe_advantages(
        self, out: dict[str, Any], rewards: torch.Tensor, state: RolloutState, inputs: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], torch.Tensor | None]:
        cfg, mode = self.args, self._mode()
        if cfg.advantage_estimator == "grpo" and cfg.length_bonus_c == 0.0:
            return out, None  # TRL's own advantages, untouched
        group = self.num_generations if mode == "train" else self.num_generations_eval
        bonus = None
        if cfg.length_bonus_c > 0.0:
            lengths = gather(out["completion_mask"].sum(dim=1))
            correct = state.correct
            if correct is None:
                correct = torch.nan_to_num(rewards, nan=-math.inf) >= cfg.length_bonus_correct_threshold
            sources = gather_object([row_source(row) for row in inputs])[::group]
            best = self.solve_rates.lookup(sources).to(rewards.device)
            bonus = length_bonus(
                lengths, correct, group, cfg.length_bonus_c, cfg.length_bonus_tolerance, best, cfg.length_bonus_acc_tolerance
            ).to(rewards.dtype)
            if mode == "train":
                self.solve_rates.update(sources, correct, group)
            self._metrics[mode]["length_bonus/mean"].append(bonus.mean().item())
        if cfg.advantage_estimator == "maxrl":
            adv = maxrl_advantages(rewards, group, bonus)
        else:
            adv = grpo_advantages(rewards, group, self.scale_rewards, bonus)
        out["advantages"] = adv[self._local_slice(out["advantages"].size(0))].to(out["advantages"].dtype)
        return out, bonus

    def _attach_routes(self, out: dict[str, Any], state: RolloutState) -> None:
        if state.routes is None or state.prefill != out["prompt_ids"].size(1):
            if self._router is not None:
                self._metrics[self._mode()]["router/replay_unaligned"].append(1.0)
            return
        seq = out["prompt_ids"].size(1) + out["completion_ids"].size(1)
        routes = align_routes(state.routes, seq)
        if self.router_replay:
            out["router_routes"] = routes
        cfg, cfg_model = self.args, self.accelerator.unwrap_model(self.model).config
        valid = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1).bool() & (routes[..., 0, 0] >= 0)
        if cfg.router_telemetry:
            entropy = torch.nn.functional.pad(state.entropy, (0, 0, 0, max(0, seq - state.entropy.size(1))))[:, :seq]
            for key, value in routing_metrics(routes, entropy, valid, cfg_model.num_experts).items():
                self._metrics[self._mode()][key].append(value)
        if cfg.router_bias_update_rate > 0 and self._mode() == "train":
            loads = gather(expert_loads(routes, valid, cfg_model.num_experts).unsqueeze(0)).mean(0)
            for layer, router in enumerate(self._router.routers):
                router.balancing_biases.copy_(balancing_bias_step(router.balancing_biases, loads[layer], cfg.router_bias_update_rate))

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
        if dppo:
            old = inputs.get("old_per_token_logps")
            sampling = inputs.get("sampling_per_token_logps")
            self._loss_state = LossState(sampling if sampling is not None else old, old, inputs["advantages"])
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            state, self._loss_state = self._loss_state, None
            if routes is not None and not (torch.is_grad_enabled() and model.training):
                self._router.stop_replay()  # no backward follows (eval): nothing to recompute
        if dppo:
            mask = (inputs["completion_mask"] * inputs.get("tool_mask", 1)).bool()
            keep = state.keep if state.keep is not None else torch.ones_like(mask)
            self._metrics[mode]["dppo/masked_frac"].append(self._global_frac(~keep, mask))
            if state.logps is not None:  # kept tokens whose pi/mu the cap truncated (verl's pg_clipfrac_lower)
                ref = state.ref_logps if state.ref_logps is not None else state.logps.detach()
                capped = (state.logps.detach() - ref).exp() > self.args.dppo_ratio_cap
                self._metrics[mode]["dppo/ratio_capped_frac"].append(self._global_frac(capped & keep, mask))
            self.last_loss_state = state  # read by probes (tests); replaced every loss call
        if routes is not None and self._router.replayed:
            self._metrics[mode]["router/replay_flip_frac"].append(self._router.flipped / self._router.replayed)
        return loss

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, **kwargs):
        rollout = self._rollout_state
        routes = rollout.routes if rollout is not None and rollout.replay_forward else None
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
        state = self._loss_state
        if state is not None and torch.is_grad_enabled():
            ref = state.ref_logps if state.ref_logps is not None else logps.detach()
            state.keep = dppo_keep_mask(logps, ref, state.advantages, self.args.dppo_delta)
            state.logps = logps
            logps = dppo_logps(logps, ref, state.loss_old_logps, state.keep, self.args.dppo_ratio_cap)
        return logps, entropies, aux

    def _global_frac(self, hit: torch.Tensor, mask: torch.Tensor) -> float:
        """Share of real tokens (over every process) where ``hit`` holds."""
        counts = torch.stack([(hit & mask).sum(), mask.sum()]).float()
        totals = self.accelerator.reduce(counts, reduction="sum")
        return float(totals[0] / totals[1].clamp(min=1.0))

    def _mode(self) -> str:
        return "train" if self.model.training else "eval"

    # ---- optimizer: Muon (report §IV-B1) -----------------------------------------------------
    def create_optimizer(self, model=None):
        """``optimizer=muon``: build Muon + AdamW here; transformers' create_optimizer then keeps it."""
        if self.args.optimizer == "muon" and self.optimizer is None:
            opt_model = self.model if model is None else model
            self.optimizer = build_muon_optimizer(opt_model, self.args, self.get_decay_parameter_names(opt_model))
        return super().create_optimizer(model)
