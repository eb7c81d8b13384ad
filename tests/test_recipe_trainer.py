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


def _alternating(completions, **_):
    return [float(k % 2 == 0) for k in range(len(completions))]


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
    args = _args(tmp_path, **ALL_ON, save_strategy="steps", save_steps=2)
    trainer = CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
    assert trainer.router_replay and trainer.loss_type == "dr_grpo" and trainer.beta == 0.0
    trainer.train()
    logs = {k: v for h in trainer.state.log_history for k, v in h.items()}
    for key in [
        "dppo/masked_frac", "dppo/ratio_capped_frac", "dynamic_sampling/dropped_frac", "dynamic_sampling/refills", "length_bonus/mean",
        "degeneracy/gated_frac", "degeneracy/rare_token_frac", "router/layer0/load_e1", "router/layer1/load_skip",
        "router/skip_rate", "router/entropy", "router/max_min_load_ratio", "router/replay_flip_frac",
    ]:
        assert key in logs, key
    assert logs["dynamic_sampling/dropped_frac"] > 0 and logs["dynamic_sampling/refills"] >= 1
    assert "router/replay_unaligned" not in logs
    assert all(torch.isfinite(p).all() for p in model.parameters())

    # p*_s (the length bonus's running max solve rate per source) is in the checkpoint and comes back on resume
    best = dict(trainer.solve_rates.best)
    assert set(best) == {"default"} and 0.0 < best["default"] <= 1.0  # _stream rows name no env: one source
    saved = json.loads((tmp_path / "checkpoint-2" / "solve_rate_max.json").read_text())
    assert saved == best
    resumed = CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
    assert resumed.solve_rates.best == {}
    resumed.train(resume_from_checkpoint=True)  # already at max_steps: restores, trains nothing
    assert resumed.solve_rates.best == best


def test_router_aux_loss_is_rejected_for_zaya(tmp_path):
    model, tok = build_tiny_policy()
    with pytest.raises(ValueError, match="router_aux_loss_coef"):
        CascadeGRPOTrainer(
            model=model, reward_funcs=[_reward], args=_args(tmp_path, router_aux_loss_coef=0.01),
            train_dataset=_stream(), processing_class=tok,
        )


@pytest.mark.slow
def test_dppo_masks_tokens_when_the_policy_moves_and_masked_tokens_get_no_gradient(tmp_path):
    """num_iterations=2 at a high LR: the second pass sees old != new, DPPO masks some tokens, and
    in a real policy forward the masked tokens' log-probs get exactly zero gradient while kept ones
    get the reference -A * min(pi/mu, 20) (scaled by TRL's dr_grpo normaliser)."""
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    # The fresh tiny policy is near-uniform over 728 tokens (p ~ 0.0014), so no token can move by the
    # report's 0.1; delta is scaled to its probabilities. The reward alternates inside each group, so
    # every group has spread and both passes push the policy.
    args = _args(
        tmp_path, max_steps=4, num_iterations=2, loss_type="dr_grpo", beta=0.0, trust_region="dppo_binary_tv",
        dppo_delta=0.002, learning_rate=5e-2, router_replay=False, router_bias_update_rate=0.01,
    )
    trainer = CascadeGRPOTrainer(model=model, reward_funcs=[_alternating], args=args, train_dataset=_stream(), processing_class=tok)
    biases = trainer._router.routers[0].balancing_biases.clone()
    trainer.train()
    fracs = [h["dppo/masked_frac"] for h in trainer.state.log_history if "dppo/masked_frac" in h]
    assert len(fracs) == 4 and fracs[0] == 0.0  # the first pass is on-policy
    assert max(fracs) > 0.0
    assert not torch.equal(biases, trainer._router.routers[0].balancing_biases)  # bias balancing moved (no replay)

    inputs = trainer._buffered_inputs[0]
    assert "old_per_token_logps" in inputs and "sampling_per_token_logps" not in inputs
    model.train()
    model.zero_grad()
    loss = trainer._compute_loss(model, inputs)
    state = trainer.last_loss_state
    state.logps.retain_grad()
    loss.backward()
    mask = (inputs["completion_mask"] * inputs.get("tool_mask", 1)).bool()
    masked, kept = ~state.keep & mask, state.keep & mask
    assert masked.any() and kept.any()
    grad = state.logps.grad
    assert (grad[masked] == 0).all()
    old = inputs["old_per_token_logps"]
    ratio = torch.exp(state.logps.detach() - old).clamp(max=20.0)
    scale = 1.0 / (old.size(0) * args.max_completion_length * trainer.current_gradient_accumulation_steps)
    expected = -inputs["advantages"].unsqueeze(1) * ratio * scale
    assert torch.allclose(grad[kept], expected[kept], rtol=1e-4, atol=1e-7)

    # a rollout engine's behaviour log-probs win over TRL's recomputed old ones as DPPO's reference
    sampling = old + 0.5 * torch.randn_like(old)
    model.zero_grad()
    loss = trainer._compute_loss(model, {**inputs, "sampling_per_token_logps": sampling})
    state = trainer.last_loss_state
    assert state.ref_logps is sampling and state.loss_old_logps is old
    moved = state.logps.detach().exp() - sampling.exp()
    adv = inputs["advantages"].unsqueeze(1).expand_as(moved)
    assert torch.equal(state.keep, torch.where(adv > 0, moved <= 0.002, moved >= -0.002))
    state.logps.retain_grad()
    loss.backward()
    kept = state.keep & mask
    ratio = torch.exp(state.logps.detach() - sampling).clamp(max=20.0)  # pi / mu, not pi / old
    expected = -adv * ratio * scale
    assert (state.logps.grad[~state.keep & mask] == 0).all()
    assert torch.allclose(state.logps.grad[kept], expected[kept], rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_masking_without_refills_changes_no_weight_under_dr_grpo(tmp_path):
    """Why dynamic sampling with 0 refills under dr_grpo and beta 0 is a load-time error (recipe/effect.py):
    a zero-spread group's advantages are 0 and dr_grpo's normaliser ignores the mask, so the run is the same.
    Under bnpo (a token-mean over the mask) the same masking does change the update."""
    def run(dynamic_sampling: bool, loss_type: str) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model, tok = build_tiny_policy()
        args = _args(tmp_path / f"{loss_type}{dynamic_sampling}", loss_type=loss_type, beta=0.0, advantage_estimator="maxrl",
                     dynamic_sampling=dynamic_sampling, dynamic_sampling_max_refills=0, learning_rate=1e-2,
                     allow_inactive=["dynamic_sampling"] if dynamic_sampling else None)
        trainer = CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)
        trainer.train()
        if dynamic_sampling:  # the even tasks' groups were really masked
            assert max(h.get("dynamic_sampling/dropped_frac", 0) for h in trainer.state.log_history) > 0
        return [p.detach().clone() for p in model.parameters()]

    masked, unmasked = run(True, "dr_grpo"), run(False, "dr_grpo")
    assert any(not torch.equal(p, q) for p, q in zip(masked, build_tiny_policy()[0].parameters())), "nothing trained"
    assert all(torch.equal(p, q) for p, q in zip(masked, unmasked))
    bnpo_masked, bnpo_unmasked = run(True, "bnpo"), run(False, "bnpo")
    assert any(not torch.equal(p, q) for p, q in zip(bnpo_masked, bnpo_unmasked))
