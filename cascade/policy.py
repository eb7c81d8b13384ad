"""The shared ZAYA policy: build the tiny CI model, load any HF checkpoint, add LoRA, save.

Every stage starts from an HF checkpoint directory and ends by writing one, so a stage's
output can be loaded with ``from_pretrained`` by anything, not only by this project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, ZayaConfig, ZayaForCausalLM

from cascade.config import LoraSettings, PolicyConfig, TinyPolicy
from cascade.tokenizer import build_tiny_tokenizer

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


def build_tiny_policy(spec: TinyPolicy | None = None, seed: int = 0) -> tuple[ZayaForCausalLM, PreTrainedTokenizerBase]:
    """A few-hundred-K-parameter ZAYA and its offline tokenizer; same seed, same weights."""
    spec = spec or TinyPolicy()
    tokenizer = build_tiny_tokenizer(vocab_size=spec.vocab_size, seed=seed)
    config = ZayaConfig(
        **spec.model_dump(exclude={"vocab_size"}),
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = ZayaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def load_policy(
    cfg: PolicyConfig, checkpoint: str | Path | None = None, seed: int = 0
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``checkpoint`` if given, else the configured policy (``tiny`` is built offline)."""
    source = str(checkpoint) if checkpoint is not None else cfg.name_or_path
    if source == "tiny":
        model, tokenizer = build_tiny_policy(cfg.tiny, seed=seed)
    else:
        kwargs: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code, "dtype": _DTYPES[cfg.dtype]}
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=cfg.trust_remote_code)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    if cfg.lora.enabled:
        model = add_lora(model, cfg.lora)
    return model, tokenizer


def add_lora(model: PreTrainedModel, lora: LoraSettings) -> PreTrainedModel:
    """Wrap ``model`` with a peft LoRA adapter on the configured target modules."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def save_policy(model: Any, tokenizer: PreTrainedTokenizerBase, path: str | Path) -> Path:
    """Write a plain HF checkpoint (LoRA adapters merged) to ``path``."""
    path = Path(path)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
