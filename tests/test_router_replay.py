"""Router replay on the tiny ZAYA: rollout routes line up with the training forward and are reused."""

from __future__ import annotations

import pytest
import torch

from cascade.policy import build_tiny_policy
from cascade.recipe.router_replay import RouterRecorder, align_routes, replayed_gate, router_classes


def _decisive(model) -> None:
    """The freshly initialised tiny router is near-uniform; sharpen it so choices are not ties."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for router in RouterRecorder(model).routers:
            w = router.router_mlp.out_proj.weight
            w.copy_(torch.randn(w.shape, generator=g) * 2.0)


def _class_probe(recorder: RouterRecorder) -> tuple[list, list]:
    """Hooks registered after the recorder's: they see the (possibly replayed) router output."""
    seen: list[list[torch.Tensor]] = [[] for _ in recorder.routers]
    handles = []
    for i, router in enumerate(recorder.routers):
        def hook(module, args, output, i=i):
            probs, idx = output[1], output[2]
            cls = torch.where(probs == 0, torch.full_like(idx, module.num_experts), idx)
            seen[i].append(cls.view(*args[0].shape[:2], -1))
        handles.append(router.register_forward_hook(hook))
    return seen, handles


@pytest.fixture(scope="module")
def rollout():
    model, tok = build_tiny_policy()
    _decisive(model)
    model.eval()
    texts = ["what is 3 plus 4", "sum", "compute the product of the first numbers please"]
    enc = tok(texts, return_tensors="pt", padding=True, padding_side="left")
    recorder = RouterRecorder(model)
    torch.manual_seed(0)
    with recorder.recording(), torch.no_grad():
        seq = model.generate(**enc, max_new_tokens=6, do_sample=True, min_new_tokens=6)
    routes, entropy = recorder.recorded()
    attention = torch.cat([enc["attention_mask"], torch.ones_like(seq[:, enc["input_ids"].size(1):])], 1)
    return model, recorder, seq, attention, routes, enc["input_ids"].size(1)


def test_gate_helpers_match_router_semantics():
    logits = torch.tensor([[[2.0, 0.0, 1.0]]])  # E = 2, class 2 = skip
    assert router_classes(logits, torch.tensor([0.0, 0.0, 0.0]), 1).item() == 0
    assert router_classes(logits, torch.tensor([0.0, 0.0, 1.0]), 1).item() == 2
    probs, idx = replayed_gate(logits, torch.tensor([[[2]]]), 2)
    assert probs.item() == 0 and idx.item() == 0  # skip hidden from the experts, as ZayaRouter does
    probs, idx = replayed_gate(logits, torch.tensor([[[1]]]), 2)
    assert probs.item() == pytest.approx(torch.softmax(logits, -1)[0, 0, 1].item()) and idx.item() == 1
    assert align_routes(torch.zeros(1, 2, 1, 1), 3)[0, :, 0, 0].tolist() == [0, 0, -1]


def test_rollout_routes_align_with_training_forward(rollout):
    model, recorder, seq, attention, routes, prompt_len = rollout
    assert recorder.prefill_len == prompt_len  # prefill = left-padded prompt, then one call per decode step
    assert routes.shape[:2] == (seq.size(0), seq.size(1) - 1)  # the last sampled token is never fed back
    with recorder.recording(), torch.no_grad():
        model(input_ids=seq, attention_mask=attention)
    full, _ = recorder.recorded()
    valid = attention[:, :-1].bool()
    same = (full[:, :-1] == routes).all(-1).all(-1)[valid]
    assert same.float().mean().item() > 0.97  # same positions, same choices (KV-cache numerics aside)


def test_replay_pins_routes_and_keeps_gate_gradient(rollout):
    model, recorder, seq, attention, routes, _ = rollout
    with torch.no_grad():  # small policy update of the router
        for router in recorder.routers:
            router.router_mlp.out_proj.weight.add_(0.3 * torch.randn_like(router.router_mlp.out_proj.weight))
    valid = attention[:, :-1].bool()
    with recorder.recording(), torch.no_grad():
        model(input_ids=seq, attention_mask=attention)
    drifted, _ = recorder.recorded()
    assert not (drifted[:, :-1] == routes).all(-1).all(-1)[valid].all()  # without replay some choices change

    seen, handles = _class_probe(recorder)
    model.train()
    model.zero_grad()
    try:
        with recorder.replaying(align_routes(routes, seq.size(1))):
            out = model(input_ids=seq, attention_mask=attention)
            out.logits.float().pow(2).mean().backward()
    finally:
        for h in handles:
            h.remove()
    replayed = torch.stack([s[0] for s in seen], dim=2)
    assert (replayed[:, :-1] == routes.long()).all()  # with replay none change, skip class included
    assert recorder.flipped > 0
    for router in recorder.routers:  # gate probabilities stay differentiable
        assert router.router_mlp.out_proj.weight.grad is not None
        assert router.router_mlp.out_proj.weight.grad.abs().sum() > 0
        assert router.down_proj.weight.grad.abs().sum() > 0
