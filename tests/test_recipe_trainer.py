"""Tiny-model GRPO runs of CascadeGRPOTrainer with every recipe switch on."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import IterableDataset

from cascade.policy import build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer


def _stream() -> IterableDataset:
    def gen():
        for i in range(10_000):
            yield {"prompt": [{"role": "user", "content": f"what is {i % 7} plus {i % 5}"}], "task": json.dumps({"i": i})}

    return IterableDataset.from_generator(gen)


def _reward(completions, task, log_extra=None, **_):
    # even tasks: constant reward (zero spread -> dropped by dynamic sampling); odd: depends on the text
    out = [1.0 if json.loads(t)["i"] % 2 == 0 else float(len(c[0]["content"]) % 2) for c, t in zip(completions, task)]
    if log_extra is not None:
        log_extra("correct", [r >= 1.0 for r in out])
    return out


def _args(tmp_path, **overrides) -> CascadeGRPOConfig:
    base = dict(
        output_dir=str(tmp_path), max_steps=2, num_generations=4, per_device_train_batch_size=8,
        max_completion_length=8, report_to="none", use_cpu=True, logging_steps=1, save_strategy="no", seed=0,
    )
    return CascadeGRPOConfig(**{**base, **overrides})


ALL_ON = dict(
    num_iterations=2, loss_type="dr_grpo", beta=0.0, advantage_estimator="maxrl", trust_region="dppo_binary_tv",
    dppo_delta=0.1, dynamic_sampling=True, dynamic_sampling_max_refills=2, length_bonus_c=0.1, degeneracy_gate=True,
    learning_rate=1e-2,
)  # bias balancing is not here: it cannot be combined with router replay (see the DPPO run below)


@pytest.mark.slow
def test_every_switch_on_logs_its_metrics(tmp_path):
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    trainer = CascadeGRPOTrainer(
        model=model, reward_funcs=[_reward], args=_args(tmp_path, **ALL_ON), train_dataset=_stream(), processing_class=tok
    )
    assert trainer.router_replay and trainer.loss_type == "dr_grpo" and trainer.beta == 0.0
    trainer.train()
    logs = {k: v for h in trainer.state.log_history for k, v in h.items()}
    for key in [
        "dppo/masked_frac", "dynamic_sampling/dropped_frac", "dynamic_sampling/refills", "length_bonus/mean",
        "degeneracy/gated_frac", "degeneracy/rare_token_frac", "router/layer0/load_e1", "router/layer1/load_skip",
        "router/skip_rate", "router/entropy", "router/max_min_load_ratio", "router/replay_flip_frac",
    ]:
        assert key in logs, key
    assert logs["dynamic_sampling/dropped_frac"] > 0 and logs["dynamic_sampling/refills"] >= 1
    assert "router/replay_unaligned" not in logs
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_router_aux_loss_is_rejected_for_zaya(tmp_path):
    model, tok = build_tiny_policy()
    with pytest.raises(ValueError, match="router_aux_loss_coef"):
        CascadeGRPOTrainer(
            model=model, reward_funcs=[_reward], args=_args(tmp_path, router_aux_loss_coef=0.01),
            train_dataset=_stream(), processing_class=tok,
        )
