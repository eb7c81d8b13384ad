"""The tiny ZAYA policy, its offline tokenizer, HF checkpoints and LoRA."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from cascade.config import LoraSettings, PolicyConfig
from cascade.policy import build_tiny_policy, count_parameters, load_policy, save_policy
from cascade.tokenizer import build_tiny_tokenizer


def test_tiny_zaya_shape():
    model, tokenizer = build_tiny_policy()
    assert type(model).__name__ == "ZayaForCausalLM"
    assert 100_000 <= count_parameters(model) <= 1_000_000
    assert model.config.num_hidden_layers >= 2 and model.config.num_experts >= 4
    assert model.config.vocab_size == len(tokenizer)


def test_tokenizer_is_deterministic_and_round_trips_any_text():
    a, b = build_tiny_tokenizer(), build_tiny_tokenizer()
    assert a.get_vocab() == b.get_vocab()
    text = "What is 12 + 7? <answer>19</answer> \\boxed{x^2} héllo ✓ \t\n"
    assert a.decode(a(text)["input_ids"]) == text
    assert [a.decode([i]) for i in a("123")["input_ids"]] == ["1", "2", "3"]  # one token per digit


def test_chat_template_renders_a_generation_prompt():
    tok = build_tiny_tokenizer()
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_same_seed_same_weights():
    m1, _ = build_tiny_policy(seed=3)
    m2, _ = build_tiny_policy(seed=3)
    m3, _ = build_tiny_policy(seed=4)
    p1, p2, p3 = (torch.cat([p.flatten() for p in m.parameters()]) for m in (m1, m2, m3))
    assert torch.equal(p1, p2) and not torch.equal(p1, p3)


def test_checkpoint_round_trip(tmp_path):
    model, tokenizer = build_tiny_policy()
    save_policy(model, tokenizer, tmp_path / "ckpt")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt")
    tok = AutoTokenizer.from_pretrained(tmp_path / "ckpt")
    ids = tok("What is 1 + 2?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-5)
    loaded, _ = load_policy(PolicyConfig(), checkpoint=tmp_path / "ckpt")
    assert type(loaded).__name__ == "ZayaForCausalLM"


def test_lora_wraps_target_modules_and_saves_a_merged_checkpoint(tmp_path):
    cfg = PolicyConfig(lora=LoraSettings(enabled=True, r=4, target_modules=["q_proj", "o_proj"]))
    model, tokenizer = load_policy(cfg)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any("q_proj" in n for n in trainable) and not any("fc1" in n for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.fill_(0.01)  # make the adapter change the output
    ids = tokenizer("What is 1 + 2?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model(ids).logits
    save_policy(model, tokenizer, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, expected, atol=1e-4)
