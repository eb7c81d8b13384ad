"""Recipe pieces against hand-computed numbers on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from cascade.recipe import CascadeGRPOConfig, check_recipe_for_model
from cascade.recipe import dynamic_sampling as ds
from cascade.recipe.advantages import grpo_advantages, maxrl_advantages
from cascade.recipe.degeneracy import chunk_ratios, is_degenerate, min_chunk_ratio, rare_token_fraction, token_bytes
from cascade.recipe.length_bonus import length_bonus
from cascade.recipe.router_telemetry import balancing_bias_step, expert_loads, routing_metrics
from cascade.recipe.solve_rate import SolveRateMax, row_source
from cascade.recipe.trust_region import dppo_keep_mask, dppo_logps, masked_fraction, truncated_ratio

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
    lengths = T([10, 20, 30, 5])
    correct = T([1, 1, 1, 0]).bool()
    # p = 0.75, m = [1, 1, 1, 0], lambda = [0.5, 0, -0.5, -] -> c*p*m*lambda
    assert torch.allclose(length_bonus(lengths, correct, 4, c=1.0), T([0.375, 0, -0.375, 0]))
    # tolerance 10: length 20 <= 10 + 10 gets the full 1/2
    assert torch.allclose(length_bonus(lengths, correct, 4, 1.0, 10), T([0.375, 0.375, -0.375, 0]))
    # m is the 0/1 correctness flag: shaped reward values (2.0 here) no longer scale the bonus
    assert torch.allclose(length_bonus(T([4, 8, 1, 1]), T([1, 1, 0, 0]).bool(), 4, 0.5), T([0.125, -0.125, 0, 0]))
    # p = 1/G: no length contrast, no bonus; c = 0: off
    assert length_bonus(lengths, T([1, 0, 0, 0]).bool(), 4, 1.0).abs().sum() == 0
    assert length_bonus(lengths, correct, 4, 0.0).abs().sum() == 0


def test_length_bonus_running_max_gate():
    lengths, correct = T([10, 20, 30, 5, 10, 20, 30, 40]), T([1, 1, 1, 0, 1, 1, 0, 0]).bool()
    # group 0: p = 0.75, group 1: p = 0.5; p* per group's source, T_acc = 0.1
    gated = length_bonus(lengths, correct, 4, 1.0, best_solve_rate=T([0.8, 0.7]), acc_tolerance=0.1)
    # 0.75 > 0.8 - 0.1 -> on; 0.5 > 0.7 - 0.1 is false -> off
    assert torch.allclose(gated, T([0.375, 0, -0.375, 0, 0, 0, 0, 0]))
    off = length_bonus(lengths, correct, 4, 1.0, best_solve_rate=T([0.9, 0.0]), acc_tolerance=0.1)
    # 0.75 > 0.8 is false -> off; 0.5 > -0.1 -> on: lambda = [0.5, -0.5], c*p = 0.5
    assert torch.allclose(off, T([0, 0, 0, 0, 0.25, -0.25, 0, 0]))


def test_solve_rate_running_max_per_source(tmp_path):
    tracker = SolveRateMax()
    assert tracker.lookup(["a"]).tolist() == [0.0]  # unseen source: no history, gate open
    # groups of 2: sources a, a, b -> a: 3/4 correct, b: 0/2
    tracker.update(["a", "a", "b"], T([1, 1, 1, 0, 0, 0]).bool(), 2)
    assert tracker.best == {"a": 0.75, "b": 0.0}
    tracker.update(["a", "b"], T([0, 0, 1, 0]).bool(), 2)  # a drops to 0 (max stays), b rises to 0.5
    assert tracker.lookup(["a", "b", "c"]).tolist() == [0.75, 0.5, 0.0]
    tracker.save(tmp_path)
    fresh = SolveRateMax()
    assert fresh.restore(tmp_path) and fresh.best == tracker.best
    assert row_source({"task": '{"env_id": "arith/add", "payload": {}}'}) == "arith/add"
    assert row_source({"env_id": "rlve/sort", "task": "{}"}) == "rlve/sort"
    assert row_source({"task": "not json"}) == "default" and row_source({}) == "default"


def test_zero_spread_on_shaped_reward_keeps_all_correct_groups_with_length_signal():
    rewards, lengths = T([1.0, 1, 1, 1]), T([10, 40, 80, 120])
    correct = rewards >= 1
    bonus = length_bonus(lengths, correct, 4, c=1.0)
    assert torch.allclose(maxrl_advantages(rewards, 4, bonus), T([0.5, 0.5 - 30 / 110, 0.5 - 70 / 110, -0.5]))
    assert ds.zero_spread_groups(rewards, 4).tolist() == [True]  # raw rewards alone: dropped
    assert ds.zero_spread_groups(ds.spread_rewards(rewards, bonus), 4).tolist() == [False]  # kept
    # all-correct with equal lengths (every lambda = 1/2) and all-wrong: still zero spread
    same = length_bonus(T([30, 30, 30, 30]), correct, 4, 1.0)
    assert ds.zero_spread_groups(ds.spread_rewards(rewards, same), 4).tolist() == [True]
    wrong = T([0.0, 0, 0, 0])
    assert ds.zero_spread_groups(ds.spread_rewards(wrong, length_bonus(lengths, wrong >= 1, 4, 1.0)), 4).tolist() == [True]
    assert ds.spread_rewards(rewards, None) is rewards


def _loop(period: int, tokens: int = 1024) -> list[int]:
    """A loop of ``period`` distinct large token ids (fixed, so the byte counts below are exact)."""
    pattern = [(7919 * k * k + 104729 * k + 13 * period) % 30011 for k in range(period)]
    return (pattern * tokens)[:tokens]


@pytest.mark.parametrize(
    "period,stream_bytes,independent_bytes",
    [(3, [29, 20, 22, 18], 31), (8, [68, 45, 45, 45], 52), (9, [71, 44, 46, 42], 56),
     (10, [62, 34, 24, 21], 60), (16, [109, 77, 78, 78], 84)],
)
def test_degeneracy_streaming_ratios_on_token_loops(period, stream_bytes, independent_bytes):
    """Pinned byte counts of the report's construction (one raw-deflate stream, level 1, wbits -10,
    Z_SYNC_FLUSH per 1 KB chunk) for 4 chunks of a loop; ratio = bytes out for the chunk / 1024."""
    import zlib

    ids = _loop(period)
    assert chunk_ratios(ids) == [n / 1024 for n in stream_bytes]
    # periods 8-10: gated by the stream (a later chunk < 0.05); each chunk compressed on its own
    # (the old construction) scores >= 0.05 and would let them through; period 16 is never gated
    data = token_bytes(ids)
    assert all(len(zlib.compress(data[i : i + 1024], 1)) == independent_bytes for i in range(0, 4096, 1024))
    assert is_degenerate(ids) == (min(stream_bytes) < 0.05 * 1024) == (period <= 10)
    if 8 <= period <= 10:
        assert independent_bytes / 1024 >= 0.05


def test_degeneracy_gate_bytes_and_ratio():
    assert token_bytes([1, 256]) == b"\x01\x00\x00\x00\x00\x01\x00\x00"
    loop = [7, 8, 9] * 300
    assert min_chunk_ratio(loop) < 0.05 and is_degenerate(loop)
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, 30000, (900,), generator=g).tolist()
    assert not is_degenerate(text) and min_chunk_ratio(text) > 0.5
    # one degenerate 1 KB chunk is enough
    assert is_degenerate(text[:256] + [5] * 256 + text[256:512])
    assert not is_degenerate([5] * 8)  # too short to compress below 5%
    assert min_chunk_ratio([]) == 1.0
    assert rare_token_fraction([[95, 5], [99, 10]], vocab_size=100, quantile=0.9) == 0.5


# (p_old, p_new, A): hand-computed keep and gradient d loss / d log pi = -A * keep * min(p_new/p_old, 20)
DPPO_CASES = [
    (0.5, 0.35, 1.0, True, -0.7),  # A > 0, moved against A by 0.15: kept, corrective gradient (the example)
    (0.5, 0.65, 1.0, False, 0.0),  # A > 0, moved along A by 0.15 > delta: masked
    (0.5, 0.35, -1.0, False, 0.0),  # A < 0, moved along A (down) by 0.15: masked
    (0.5, 0.65, -1.0, True, 1.3),  # A < 0, moved against A: kept, gradient -A * 1.3
    (0.5, 0.55, 2.0, True, -2.2),  # inside the region: plain IS gradient -A * 1.1
    (0.01, 0.05, -1.0, True, 5.0),  # ratio 5: kept, not capped
    (0.004, 0.1, -1.0, True, 20.0),  # ratio 25 > 20: truncated at the cap
    (0.5, 0.35, 0.0, False, 0.0),  # A == 0 takes the A < 0 branch (as the reference): masked, and 0 anyway
]


def _dppo_tensors():
    old = torch.log(T([c[0] for c in DPPO_CASES]))
    new = torch.log(T([c[1] for c in DPPO_CASES]))
    adv = T([c[2] for c in DPPO_CASES])
    return old.view(1, -1), new.view(1, -1), adv.view(1, -1)


def test_dppo_keep_mask_both_advantage_signs():
    old, new, adv = _dppo_tensors()
    keep = dppo_keep_mask(new, old, adv, 0.1)
    assert keep.view(-1).tolist() == [c[3] for c in DPPO_CASES]
    # per-sequence advantages broadcast over the tokens
    seq = dppo_keep_mask(new.expand(2, -1), old.expand(2, -1), T([1.0, -1.0]), 0.1)
    assert seq[0].tolist() == dppo_keep_mask(new, old, torch.ones_like(adv), 0.1).view(-1).tolist()
    assert seq[1].tolist() == dppo_keep_mask(new, old, -torch.ones_like(adv), 0.1).view(-1).tolist()
    assert dppo_keep_mask(new, new.detach(), adv, 0.1).all()  # on-policy: nothing masked
    assert torch.allclose(truncated_ratio(new, old, 20.0), T([[0.7, 1.3, 0.7, 1.3, 1.1, 5.0, 20.0, 0.7]]), atol=1e-5)
    assert masked_fraction(keep, T([[1, 1, 1, 1, 0, 0, 0, 0]])) == pytest.approx(2 / 4)


@pytest.mark.parametrize("trl_old", ["same", "none", "other"])
def test_dppo_gradient_through_trl_ratio_loss(trl_old):
    """TRL's unclipped ratio surrogate -A * exp(out - old), fed ``dppo_logps``: masked tokens get exactly
    zero gradient, kept ones the reference's -A * min(pi/mu, 20), whatever TRL divides by."""
    mu, pi, adv = _dppo_tensors()
    pi = pi.clone().requires_grad_()
    keep = dppo_keep_mask(pi, mu, adv, 0.1)
    loss_old = {"same": mu, "none": None, "other": mu + 0.3}[trl_old]  # "other": behaviour != TRL's old
    out = dppo_logps(pi, mu, loss_old, keep, 20.0)
    assert torch.equal(out.detach(), pi.detach())  # values untouched: TRL's logged ratios stay its own
    ratio = torch.exp(out - (out.detach() if loss_old is None else loss_old))
    (-(ratio * adv).sum()).backward()
    expected = T([[c[4] for c in DPPO_CASES]])
    assert torch.allclose(pi.grad, expected, atol=1e-5)
    assert (pi.grad[~keep] == 0).all()  # exactly zero, not merely small


def test_dppo_matches_reference_formula_on_random_tokens():
    """verl's per-token loss -A * sg(min(exp(clamp(pi - mu)), 20)) * log pi * valid, written out here."""
    g = torch.Generator().manual_seed(0)
    pi = (torch.rand(4, 16, generator=g) * -3).requires_grad_()
    mu = torch.rand(4, 16, generator=g) * -3
    adv = torch.randn(4, generator=g)
    moved = pi.detach().exp() - mu.exp()
    a = adv.unsqueeze(1).expand_as(pi)
    valid = torch.where(a > 0, moved <= 0.2, moved >= -0.2).float()
    tr = torch.exp((pi.detach() - mu).clamp(-20, 20)).clamp(max=20.0)
    ref_grad = -a * tr * valid
    keep = dppo_keep_mask(pi, mu, adv, 0.2)
    assert torch.equal(keep.float(), valid)
    out = dppo_logps(pi, mu, mu, keep, 20.0)
    (-(torch.exp(out - mu) * adv.unsqueeze(1)).sum()).backward()
    assert torch.allclose(pi.grad, ref_grad, atol=1e-5)
    assert 0 < (1 - valid).mean() < 1  # both kinds of token occur


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
    ok = CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, loss_type="dr_grpo", beta=0.0, trust_region="dppo_binary_tv")
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
    with pytest.raises(ValueError, match="dppo_ratio_cap"):
        CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, dppo_ratio_cap=0.0)
    with pytest.raises(ValueError, match="group std"):
        CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, length_bonus_c=0.1)  # grpo + group scaling
    assert CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, length_bonus_c=0.1, scale_rewards="none").length_bonus_c
    with pytest.raises(ValueError, match="second correction"):
        CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, trust_region="dppo_binary_tv", use_vllm=True)
    with pytest.raises(ValueError, match="beta=0"):
        CascadeGRPOConfig(output_dir=str(tmp_path), use_cpu=True, trust_region="dppo_binary_tv", beta=0.04)


def test_bias_balancing_with_router_replay_is_a_config_error(tmp_path):
    base = dict(output_dir=str(tmp_path), use_cpu=True, router_bias_update_rate=0.01)
    for replay in (None, True):  # None = on for ZAYA policies
        with pytest.raises(ValueError, match="router_bias_update_rate > 0 with router replay.*fixed during RL"):
            CascadeGRPOConfig(**base, router_replay=replay)
    assert CascadeGRPOConfig(**base, router_replay=False).router_bias_update_rate == 0.01


def test_recipe_fields_pass_the_yaml_trainer_check():
    from cascade.trainer_config import check_trainer_section

    section = {
        "advantage_estimator": "maxrl", "trust_region": "dppo_binary_tv", "dppo_delta": 0.1, "loss_type": "dr_grpo",
        "beta": 0.0, "dynamic_sampling": True, "dynamic_sampling_max_refills": 2, "length_bonus_c": 0.1,
        "length_bonus_tolerance": 16, "length_bonus_acc_tolerance": 0.1, "degeneracy_gate": True, "router_replay": False,
        "router_bias_update_rate": 0.001, "dppo_ratio_cap": 20.0,
    }
    assert check_trainer_section(section, "grpo") == []
    assert check_trainer_section({"advantage_estimator": "ppo"}, "grpo")
