"""optimizer=muon: which parameters Muon moves and how, LoRA, and the optimizer state across a resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from datasets import IterableDataset

from cascade.config import LoraSettings
from cascade.policy import add_lora, build_tiny_policy
from cascade.recipe import CascadeGRPOConfig, CascadeGRPOTrainer
from cascade.recipe.muon import MuonWithAdamW, build_muon_optimizer, split_parameters

LR = 1e-3


def _args(tmp_path: Path, **overrides) -> CascadeGRPOConfig:
    base = dict(
        output_dir=str(tmp_path), max_steps=2, num_generations=4, per_device_train_batch_size=4,
        max_completion_length=6, report_to="none", use_cpu=True, logging_steps=1, save_strategy="no", seed=0,
        optimizer="muon", learning_rate=LR, lr_scheduler_type="constant",
    )
    return CascadeGRPOConfig(**{**base, **overrides})


def _steps(model, args, n: int = 1) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], MuonWithAdamW]:
    """``n`` optimizer steps on random LM batches; the last step's parameter change and gradient."""
    opt = build_muon_optimizer(model, args, [n for n, p in model.named_parameters() if p.ndim >= 2])
    for _ in range(n):
        opt.zero_grad()
        before = {k: p.detach().clone() for k, p in model.named_parameters()}
        ids = torch.randint(3, 100, (2, 12))
        model(input_ids=ids, labels=ids).loss.backward()
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters() if p.grad is not None}
        opt.step()
    delta = {k: p.detach() - before[k] for k, p in model.named_parameters()}
    return delta, grads, opt


def test_split_puts_matrices_on_muon_and_the_rest_on_adamw():
    model, _ = build_tiny_policy()
    muon, adamw = split_parameters(model)
    muon_ids = {id(p) for p in muon}
    names = {n for n, p in model.named_parameters() if id(p) in muon_ids}
    assert "model.layers.0.self_attn.qkv_proj.q_proj.weight" in names
    assert "model.layers.0.mlp.gate.router_mlp.fc1.weight" in names  # router matrices: Muon
    adamw_names = {n for n, _ in adamw}
    assert "model.embed_tokens.weight" in adamw_names  # tied with the LM head
    assert {"model.norm.weight", "model.layers.0.mlp.gate.router_mlp.fc1.bias"} <= adamw_names
    assert "model.layers.0.mlp.experts.gate_up_proj" in adamw_names  # 3-D expert stack
    assert all(p.ndim == 2 for p in muon)


def test_muon_step_is_the_orthogonalised_gradient_without_momentum(tmp_path):
    """Second step: with momentum 0 the update is -lr * 0.2 * sqrt(max(A, B)) * NS(this step's gradient)."""
    from torch.optim import _muon

    torch.manual_seed(0)
    model, _ = build_tiny_policy()
    delta, grads, opt = _steps(model, _args(tmp_path), n=2)
    coeffs = (_muon.DEFAULT_A, _muon.DEFAULT_B, _muon.DEFAULT_C)
    for name, (rows, cols) in [("model.layers.0.self_attn.o_proj.weight", (64, 64)),
                               ("model.layers.0.self_attn.qkv_proj.k_proj.weight", (32, 64))]:
        ortho = _muon._zeropower_via_newtonschulz(grads[name], coeffs, _muon.DEFAULT_NS_STEPS, _muon.EPS)
        expected = -LR * 0.2 * math.sqrt(max(rows, cols)) * ortho.float()  # match_rms_adamw
        assert torch.allclose(delta[name], expected, atol=1e-6, rtol=1e-3), name
    emb = "model.embed_tokens.weight"  # AdamW, not Muon: elementwise, bounded by lr
    assert delta[emb].abs().max() <= LR * 1.01 and delta[emb].abs().max() > 0
    assert opt.inner["muon"].param_groups[0]["momentum"] == 0.0


def test_lora_trains_only_adapters(tmp_path):
    torch.manual_seed(0)
    model, _ = build_tiny_policy()
    model = add_lora(model, LoraSettings(enabled=True, r=4, alpha=8))
    muon, adamw = split_parameters(model)
    assert muon and all("lora_" in n for n, p in model.named_parameters() if any(p is q for q in muon))
    assert all(p.requires_grad for _, p in adamw)
    delta, _, _ = _steps(model, _args(tmp_path))
    moved = {n for n, d in delta.items() if d.abs().max() > 0}
    assert moved and all("lora_" in n for n in moved)


def _stream() -> IterableDataset:
    def gen():
        for i in range(10_000):
            yield {"prompt": [{"role": "user", "content": f"what is {i % 7} plus {i % 5}"}], "task": str(i)}

    return IterableDataset.from_generator(gen)


def _reward(completions, **_):
    return [float(len(c[0]["content"]) % 3) for c in completions]


def _trainer(args):
    torch.manual_seed(0)
    model, tok = build_tiny_policy()
    return CascadeGRPOTrainer(model=model, reward_funcs=[_reward], args=args, train_dataset=_stream(), processing_class=tok)


@pytest.mark.slow
def test_muon_state_survives_save_and_resume(tmp_path):
    """Checkpoint at step 1 holds both optimizers' state; resuming loads it back into Muon + AdamW."""
    args = dict(save_strategy="steps", save_steps=1, adam_beta1=0.9)
    first = _trainer(_args(tmp_path, **args))
    first.train()
    opt = first.optimizer.optimizer
    assert isinstance(opt, MuonWithAdamW)
    saved = torch.load(tmp_path / "checkpoint-1" / "optimizer.pt", weights_only=True)
    # torch's flat format: groups Muon first, then AdamW's; state by parameter index
    assert saved["param_groups"][0]["momentum"] == 0.0 and len(saved["param_groups"]) == len(opt.param_groups)
    n_muon = len(saved["param_groups"][0]["params"])
    assert {k for k, v in saved["state"].items() if "step" in v} == set(range(n_muon, len(saved["state"])))  # AdamW's
    assert all("momentum_buffer" in saved["state"][k] for k in range(n_muon))
    assert json.loads((tmp_path / "checkpoint-1" / "trainer_state.json").read_text())["global_step"] == 1

    resumed = _trainer(_args(tmp_path, **args, max_steps=3))
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    assert resumed.state.global_step == 3
    after = torch.load(tmp_path / "checkpoint-3" / "optimizer.pt", weights_only=True)
    # AdamW counts steps in its state: 3 only if the two saved steps were loaded back (fresh state: 1)
    assert {v["step"].item() for v in after["state"].values() if "step" in v} == {3.0}
    assert after["param_groups"][0]["momentum"] == 0.0 and len(after["state"]) == len(saved["state"])


def test_state_dict_round_trip_keeps_one_set_of_groups(tmp_path):
    """A loaded optimizer's inner states match the saved ones, and ``param_groups`` are the groups torch's
    loading gave the inner optimizers, so the scheduler still sets the learning rate Muon and AdamW use."""
    from transformers import get_scheduler

    torch.manual_seed(0)
    model, _ = build_tiny_policy()
    _, _, opt = _steps(model, _args(tmp_path))
    saved = opt.state_dict()
    assert {"exp_avg", "exp_avg_sq", "step"} <= set(next(iter(opt.inner["adamw"].state.values())))
    assert len(opt.state) == sum(len(o.state) for o in opt.inner.values())
    assert len(opt.inner["muon"].state) == len(opt.inner["muon"].param_groups[0]["params"])  # looking up state adds none

    fresh = build_muon_optimizer(model, _args(tmp_path), [n for n, p in model.named_parameters() if p.ndim >= 2])
    fresh.load_state_dict(saved)
    for name, inner in opt.inner.items():
        for p, state in inner.state.items():
            assert all(torch.equal(fresh.inner[name].state[p][k], v) for k, v in state.items()), name
    sched = get_scheduler("linear", optimizer=fresh, num_warmup_steps=0, num_training_steps=4)
    fresh.step()
    sched.step()
    assert {g["lr"] for inner in fresh.inner.values() for g in inner.param_groups} == {LR * 0.75}
    nested = {name: inner.state_dict() for name, inner in opt.inner.items()}  # the format before the flat one
    fresh.load_state_dict(nested)
    assert fresh.inner["adamw"].state_dict()["state"].keys() == nested["adamw"]["state"].keys()


def test_one_scheduler_drives_both_learning_rates(tmp_path):
    from transformers import get_scheduler

    model, _ = build_tiny_policy()
    opt = build_muon_optimizer(model, _args(tmp_path), [])
    sched = get_scheduler("linear", optimizer=opt, num_warmup_steps=0, num_training_steps=4)
    opt.step()
    sched.step()
    lrs = {name: [g["lr"] for g in inner.param_groups] for name, inner in opt.inner.items()}
    assert lrs == {"muon": [LR * 0.75], "adamw": [LR * 0.75] * len(opt.inner["adamw"].param_groups)}
