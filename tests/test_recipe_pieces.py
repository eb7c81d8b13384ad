"""Recipe pieces against hand-computed numbers on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from cascade.recipe import CascadeGRPOConfig, check_recipe_for_model
from cascade.recipe import dynamic_sampling as ds
from cascade.recipe.advantages import grpo_advantages, maxrl_advantages
from cascade.recipe.degeneracy import is_degenerate, min_chunk_ratio, rare_token_fraction, token_bytes
from cascade.recipe.length_bonus import length_bonus
from cascade.recipe.router_telemetry import balancing_bias_step, expert_loads, routing_metrics
from cascade.recipe.trust_region import binary_tv, dppo_keep_mask, masked_fraction, stop_gradient_outside

T = torch.tensor


def test_maxrl_divides_by_group_mean_and_guards_zero():
    adv = maxrl_advantages(T([1.0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0]), 4)
    # group means 0.5, 0 (guarded), 0.75
    expected = [1, -1, -1, 1, 0, 0, 0, 0, 1 / 3, 1 / 3, 1 / 3, -1]
    assert torch.allclose(adv, T(expected), atol=1e-6)


def test_bonus_enters_numerator_only():
    bonus = T([0.1, 0, 0, 0])
    assert maxrl_advantages(T([1.0, 0, 0, 1]), 4, bonus)[0].item() == pytest.approx((1.1 - 0.5) / 0.5)
    std = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]
    adv = grpo_advantages(T([1.0, 0, 0, 1]), 4, "group", bonus)
    assert adv[0].item() == pytest.approx(0.6 / (std + 1e-4), rel=1e-5)
    assert adv[1].item() == pytest.approx(-0.5 / (std + 1e-4), rel=1e-5)


def test_grpo_scales_match_trl_conventions():
    r = T([1.0, 0, 0, 1, 2, 2, 2, 2])
    assert torch.allclose(grpo_advantages(r, 4, "none"), T([0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0]))
    batch_std = r.std().item()
    assert grpo_advantages(r, 4, "batch")[0].item() == pytest.approx(0.5 / (batch_std + 1e-4), rel=1e-5)
    assert grpo_advantages(T([1.0, float("nan"), 0, 1]), 4).isnan().sum() == 0


def test_length_bonus_hand_computed():
    rewards, lengths = T([1.0, 1, 1, 0]), T([10, 20, 30, 5])
    correct = rewards >= 1
    # p = 0.75, m = 1, lambda = [0.5, 0, -0.5, -] -> c*p*m*lambda
    assert torch.allclose(length_bonus(rewards, lengths, correct, 4, c=1.0), T([0.375, 0, -0.375, 0]))
    # tolerance 10: length 20 <= 10 + 10 gets the full 1/2
    assert torch.allclose(length_bonus(rewards, lengths, correct, 4, 1.0, 10), T([0.375, 0.375, -0.375, 0]))
    # m = max reward: a group with shaped rewards scales the bonus
    shaped = T([2.0, 2, 0, 0])
    assert torch.allclose(length_bonus(shaped, T([4, 8, 1, 1]), shaped >= 1, 4, 0.5), T([0.25, -0.25, 0, 0]))
    # p = 1/G: no length contrast, no bonus; c = 0: off
    assert length_bonus(T([1.0, 0, 0, 0]), lengths, T([1, 0, 0, 0]).bool(), 4, 1.0).abs().sum() == 0
    assert length_bonus(rewards, lengths, correct, 4, 0.0).abs().sum() == 0


def test_degeneracy_gate_bytes_and_ratio():
    assert token_bytes([1, 256]) == b"\x01\x00\x00\x00\x00\x01\x00\x00"
    loop = [7, 8, 9] * 300
    assert min_chunk_ratio(loop) < 0.05 and is_degenerate(loop)
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, 30000, (900,), generator=g).tolist()
    assert not is_degenerate(text)
    # one degenerate 1 KB chunk is enough
    assert is_degenerate(text[:256] + [5] * 256 + text[256:512])
    assert not is_degenerate([5] * 8)  # too short to compress below 5%
    assert rare_token_fraction([[95, 5], [99, 10]], vocab_size=100, quantile=0.9) == 0.5


def test_dppo_mask_and_gradient():
    logps = torch.log(T([0.5, 0.5, 0.5, 0.9])).requires_grad_()
    old = torch.log(T([0.5, 0.65, 0.35, 0.95]))
    assert torch.allclose(binary_tv(logps, old), T([0.0, 0.15, 0.15, 0.05]), atol=1e-6)
    keep = dppo_keep_mask(logps, old, 0.1)
    assert keep.tolist() == [True, False, False, True]
    adv = T([1.0, 1.0, -1.0, 2.0])
    loss = -(torch.exp(stop_gradient_outside(logps, keep) - old) * adv).sum()
    loss.backward()
    ratio = torch.exp(logps.detach() - old)
    # masked tokens: no gradient; kept tokens: plain importance-weighted PG, no clipping
    assert torch.allclose(logps.grad, T([-1.0 * ratio[0], 0, 0, -2.0 * ratio[3]]))
    assert masked_fraction(keep, T([1, 1, 1, 0])) == pytest.approx(2 / 3)
    assert dppo_keep_mask(logps, logps.detach(), 0.1).all()  # on-policy: nothing masked


def test_zero_spread_groups_and_splice():
    r = T([1.0, 1, 1, 1, 0, 1, 0, 0, float("nan"), float("nan"), float("nan"), float("nan"), 2, float("nan"), 2, 2])
    assert ds.zero_spread_groups(r, 4).tolist() == [True, False, True, True]
    batch = {
        "prompt_ids": T([[0, 5], [6, 7]]), "prompt_mask": T([[0, 1], [1, 1]]),
        "completion_ids": T([[8, 0], [9, 9]]), "completion_mask": T([[1, 0], [1, 1]]),
        "advantages": T([0.0, 0.0]), "num_items_in_batch": T(3),
        "router_routes": torch.zeros(2, 4, 1, 1, dtype=torch.int16),
    }
    refill = {
        "prompt_ids": T([[1, 2, 3]]), "prompt_mask": T([[1, 1, 1]]),
        "completion_ids": T([[4]]), "completion_mask": T([[1]]),
        "advantages": T([0.7]), "router_routes": torch.full((1, 4, 1, 1), 2, dtype=torch.int16),
    }
    out = ds.splice(batch, T([1]), refill, pad_token_id=0)
    assert out["prompt_ids"].tolist() == [[0, 0, 5], [1, 2, 3]]  # prompts stay left-padded
    assert out["prompt_mask"].tolist() == [[0, 0, 1], [1, 1, 1]]
    assert out["completion_ids"].tolist() == [[8, 0], [4, 0]]  # completions stay right-padded
    assert out["completion_mask"].tolist() == [[1, 0], [1, 0]]
    assert out["advantages"].tolist() == pytest.approx([0.0, 0.7])
    assert out["router_routes"][:, :, 0, 0].tolist() == [[-1, 0, 0, 0, 0], [2, 2, 2, 2, -1]]
    assert int(out["num_items_in_batch"]) == 2
    masked = ds.mask_groups(out, T([True, False]))
    assert masked["tool_mask"].tolist() == [[0, 0], [1, 1]] and masked["advantages"][0] == 0
    assert int(masked["num_items_in_batch"]) == 1
    assert not ds.can_splice({**batch, "pixel_values": T([1])})


def test_routing_metrics_and_bias_step():
    routes = T([[0, 0, 1, 2, 1]]).view(1, 5, 1, 1)  # E = 2, class 2 = skip; last token invalid
    entropy = T([[0.1, 0.2, 0.3, 0.4, 9.0]]).view(1, 5, 1)
    valid = T([[1, 1, 1, 1, 0]])
    m = routing_metrics(routes, entropy, valid, num_experts=2)
    assert m["router/layer0/load_e0"] == pytest.approx(0.5) and m["router/layer0/load_e1"] == pytest.approx(0.25)
    assert m["router/skip_rate"] == pytest.approx(0.25) and m["router/max_min_load_ratio"] == pytest.approx(2.0)
    assert m["router/entropy"] == pytest.approx(0.25)
    loads = expert_loads(routes, valid, 2)
    assert loads.tolist() == [[pytest.approx(2 / 3), pytest.approx(1 / 3)]]
    new = balancing_bias_step(T([0.0, 0.0, -1.0]), loads[0], 0.1)
    assert torch.allclose(new, T([-0.1, 0.1, -1.0]))


def test_check_recipe_for_model(tmp_path):
    ok = CascadeGRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, loss_type="dr_grpo", beta=0.0, trust_region="dppo_binary_tv", num_iterations=2
    )
    assert check_recipe_for_model(ok, "zaya") == []
    bad = CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, router_aux_loss_coef=0.01)
    assert any("router_aux_loss_coef" in p for p in check_recipe_for_model(bad, "zaya"))
    assert check_recipe_for_model(bad, "qwen3_moe") == []
    sapo = CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, loss_type="sapo", trust_region="dppo_binary_tv")
    assert any("loss_type" in p for p in check_recipe_for_model(sapo, "zaya"))
    replay = CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, router_replay=True)
    assert any("router_replay" in p for p in check_recipe_for_model(replay, "llama"))
    with pytest.raises(ValueError, match="dppo_delta"):
        CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, dppo_delta=0.0)


def test_recipe_fields_pass_the_yaml_trainer_check():
    from cascade.trainer_config import check_trainer_section

    section = {
        "advantage_estimator": "maxrl", "trust_region": "dppo_binary_tv", "dppo_delta": 0.1, "loss_type": "dr_grpo",
        "beta": 0.0, "dynamic_sampling": True, "dynamic_sampling_max_refills": 2, "length_bonus_c": 0.1,
        "length_bonus_tolerance": 16, "degeneracy_gate": True, "router_replay": None, "router_bias_update_rate": 0.001,
    }
    assert check_trainer_section(section, "grpo") == []
    assert check_trainer_section({"advantage_estimator": "ppo"}, "grpo")
