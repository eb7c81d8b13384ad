"""optimizer=muon under FSDP2: 2 ranks holding dim-0 shards step exactly as one unsharded copy.

The ranks are forked (the parent has torch and the policy code imported already) and joined by
gloo on CPU. Both ranks see the same batch, so FSDP2's averaged gradient is the unsharded one and
only the optimizer can make the two models differ. A control run orthogonalises each rank's local
shard instead of the whole matrix and must differ: the comparison can see a shard-wise Muon.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch.distributed.tensor import DTensor

from cascade.policy import build_tiny_policy
from cascade.recipe import muon
from cascade.recipe.muon import MuonWithAdamW, build_muon_optimizer
from gloo_ranks import run_ranks

ARGS = SimpleNamespace(learning_rate=1e-2, weight_decay=0.1, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8)
STEPS = 3


def _optimizer(model) -> MuonWithAdamW:
    return build_muon_optimizer(model, ARGS, [n for n, p in model.named_parameters() if p.ndim >= 2])


def _shard_as_accelerate_does(model, opt: MuonWithAdamW, mesh) -> None:
    """accelerate's ``_prepare_fsdp2``: the Trainer builds the optimizer on the unsharded model, then
    each optimizer parameter becomes a keyed stand-in, ``fully_shard`` runs, and the keys are mapped
    to the sharded parameters through ``optimizer.param_groups``."""
    from accelerate.utils import fsdp2_switch_optimizer_parameters
    from accelerate.utils.modeling import _get_parameter_id
    from torch.distributed.fsdp import fully_shard

    keys = {name: _get_parameter_id(p) for name, p in model.named_parameters()}
    for group in opt.param_groups:
        for i, p in enumerate(group["params"]):
            group["params"][i] = torch.empty(1)
            group["params"][i].data_ptr = _get_parameter_id(p)
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    fsdp2_switch_optimizer_parameters(opt, {keys[name]: p for name, p in model.named_parameters()})


def _train(model, opt) -> None:
    for step in range(STEPS):
        torch.manual_seed(step)  # the same batch on every rank and for the unsharded copy
        ids = torch.randint(3, 100, (2, 12))
        opt.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()


def _local_shard_only(update, ns_coefficients, ns_steps, eps):
    """The broken variant: Newton-Schulz on this rank's rows only."""
    ortho = torch.optim._muon._zeropower_via_newtonschulz(update.to_local(), ns_coefficients, ns_steps, eps)
    return DTensor.from_local(ortho, update.device_mesh, update.placements, shape=update.shape, stride=update.stride())


def _max_diffs(model, reference) -> dict[str, float]:
    ref = dict(reference.named_parameters())
    return {n: (p.full_tensor() - ref[n]).abs().max().item() for n, p in model.named_parameters()}


def _state_round_trip(model, opt: MuonWithAdamW, rank: int) -> dict[str, bool]:
    """Save the optimizer as accelerate does under FSDP2 (torch.distributed.checkpoint; full state on
    rank 0 by transformers' default, or sharded) and load it into a fresh optimizer: each inner
    optimizer holds the same per-parameter state (AdamW moments and step, Muon momentum buffer)
    and the same hyperparameters."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict, set_optimizer_state_dict

    same = {}
    for kind, options in {"full": StateDictOptions(full_state_dict=True, cpu_offload=True, broadcast_from_rank0=True),
                          "sharded": StateDictOptions()}.items():
        checkpoint = get_optimizer_state_dict(model, opt, options=options)
        model.zero_grad(set_to_none=True)  # a resume: no gradients, so DCP first steps the new optimizer at lr 0
        fresh = _optimizer(model)
        set_optimizer_state_dict(model, fresh, checkpoint if rank == 0 or kind == "sharded" else {}, options=options)
        same[kind] = all(_same_state(fresh.inner[name].state[p], state) for name, inner in opt.inner.items()
                         for p, state in inner.state.items()) and _groups(fresh.state_dict()) == _groups(opt.state_dict())
    return same


def _same_state(loaded: dict, saved: dict) -> bool:
    return loaded.keys() == saved.keys() and all(torch.equal(_local(loaded[k]), _local(v)) for k, v in saved.items())


def _groups(state_dict: dict) -> list[dict]:
    """Hyperparameters per group; the broadcast from rank 0 turns tuples (betas, ns_coefficients) into lists."""
    return [{k: tuple(v) if isinstance(v, list) else v for k, v in g.items()} for g in state_dict["param_groups"]]


def _local(t: torch.Tensor) -> torch.Tensor:
    return t.to_local() if isinstance(t, DTensor) else t


def _momentum_matches_torch(mesh) -> float:
    """Momentum and Nesterov (0 in the report): the buffer stays sharded, the update is torch's.
    7 rows: uneven shards. Max difference to torch's Muon on the whole parameter after 3 steps."""
    from torch.distributed.tensor import Shard, distribute_tensor

    torch.manual_seed(0)
    whole = torch.nn.Parameter(torch.randn(7, 5))
    sharded = torch.nn.Parameter(distribute_tensor(whole.detach().clone(), mesh, [Shard(0)]))
    kw = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, adjust_lr_fn="original")
    opts = torch.optim.Muon([whole], **kw), muon.FullMatrixMuon([sharded], **kw)
    for _ in range(STEPS):
        grad = torch.randn(7, 5)
        whole.grad, sharded.grad = grad, distribute_tensor(grad, mesh, [Shard(0)])
        for opt in opts:
            opt.step()
    assert isinstance(opts[1].state[sharded]["momentum_buffer"], DTensor)
    return (sharded.full_tensor() - whole).abs().max().item()


def _steps(rank: int, mesh) -> dict:
    reference, _ = build_tiny_policy(seed=0)
    _train(reference, _optimizer(reference))
    out = {"momentum": _momentum_matches_torch(mesh)}
    for variant in ("whole", "local"):
        if variant == "local":
            muon.orthogonalise_whole = _local_shard_only  # in this forked rank only
        model, _ = build_tiny_policy(seed=0)
        opt = _optimizer(model)
        _shard_as_accelerate_does(model, opt, mesh)
        out[f"{variant}_sharded"] = all(isinstance(p, DTensor) for o in opt.inner.values()
                                        for g in o.param_groups for p in g["params"])
        _train(model, opt)
        out[variant] = _max_diffs(model, reference)
        if variant == "whole":
            muon_ids = {id(p) for p in opt.inner["muon"].param_groups[0]["params"]}
            out["muon_names"] = [n for n, p in model.named_parameters() if id(p) in muon_ids]
            out["round_trip"] = _state_round_trip(model, opt, rank)
    return out


def test_sharded_muon_steps_as_unsharded_muon():
    results = run_ranks(_steps)
    for rank in (0, 1):
        r = results[rank]
        assert r["whole_sharded"] and r["local_sharded"], "accelerate's mapping reached both inner optimizers"
        assert "model.layers.0.mlp.gate.router_mlp.out_proj.weight" in r["muon_names"]  # 5 rows: uneven shards 3 + 2
        assert max(r["whole"].values()) <= 1e-6, {n: d for n, d in r["whole"].items() if d > 1e-6}
        # the control: every Muon matrix moves differently when only the local shard is orthogonalised
        assert min(r["local"][n] for n in r["muon_names"]) > 1e-4, r["local"]
        assert r["round_trip"] == {"full": True, "sharded": True}, "AdamW and Muon state through torch.distributed.checkpoint"
        assert r["momentum"] <= 1e-6
