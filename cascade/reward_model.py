"""The tiny CI reward model: a small sequence classifier trained offline with TRL's RewardTrainer.

CI has no hub access, so the behavioral stage's reward model is built here in seconds: a
two-layer Llama classifier over the tiny tokenizer, trained on preference pairs from the
instruction environments (chosen = the env's reference, which follows every constraint;
rejected = a corrupted answer the "instructions" checker rejects). The result is a plain HF
checkpoint that ``AutoModelForSequenceClassification`` loads like any hub reward model.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerBase

from cascade.tokenizer import _WORDS, build_tiny_tokenizer
from envs import Task, get_env
from verifiers import get_verifier

TINY_RM_VERSION = 1  # bump when the recipe below changes, so cached models are rebuilt
# (env id, options): the mix preference pairs are drawn from
PAIR_SOURCES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("if/simple", {"instruction_ids": "easy", "max_constraints": 1}),
    ("if/simple", {"instruction_ids": "easy"}),
    ("if/simple", {}),
)


def default_cache_dir(seed: int = 0) -> Path:
    """Where ``path: tiny`` lives: ``$ZAYA_CASCADE_CACHE`` or ``~/.cache/zaya-cascade``, per version and seed."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    root = Path(os.environ.get("ZAYA_CASCADE_CACHE") or xdg / "zaya-cascade")
    return root / f"tiny-rm-v{TINY_RM_VERSION}-seed{seed}"


def is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _corruptions(rng: random.Random, reference: str, other: str) -> list[str]:
    """Violating candidates, in a seeded order: other prompt's answer, truncation, junk, shouting."""
    words = reference.split()
    junk = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))
    candidates = [other, " ".join(words[: max(1, len(words) // 3)]), junk, reference.upper()]
    rng.shuffle(candidates)
    return candidates


def preference_triples(num_pairs: int, seed: int = 0) -> list[tuple[Task, str, str]]:
    """``(task, chosen, rejected)``: chosen is the env's reference, rejected fails the task's checker."""
    checker = get_verifier("instructions")
    envs = [get_env(env_id, **options) for env_id, options in PAIR_SOURCES]
    rng = random.Random(f"tiny-rm|{seed}")
    triples: list[tuple[Task, str, str]] = []
    index = 0
    while len(triples) < num_pairs:
        index += 1
        if index > 20 * num_pairs:
            raise RuntimeError(f"could only build {len(triples)} of {num_pairs} preference pairs")
        task = envs[index % len(envs)].sample(seed * 1_000_003 + index)
        other = envs[(index + 1) % len(envs)].sample(seed * 1_000_003 + index + 7919)
        if task.reference is None or other.reference is None:
            continue
        rejected = next((c for c in _corruptions(rng, task.reference, other.reference)
                         if not checker.verify(c, task.payload).correct), None)
        if rejected is not None:
            triples.append((task, task.reference, rejected))
    return triples


def preference_pairs(num_pairs: int, seed: int = 0) -> list[dict[str, Any]]:
    """TRL's conversational preference rows ``{prompt, chosen, rejected}``."""
    return [
        {
            "prompt": task.prompt,
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
        for task, chosen, rejected in preference_triples(num_pairs, seed)
    ]


def tiny_reward_classifier(tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> LlamaForSequenceClassification:
    """A ~70K-parameter Llama with a one-logit head (ZAYA has no sequence-classification head)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512, num_labels=1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForSequenceClassification(config)


def build_tiny_reward_model(
    out_dir: str | Path | None = None, steps: int = 40, seed: int = 0, num_pairs: int = 320
) -> Path:
    """Train (or reuse, if ``out_dir`` already holds one) the tiny RM; same arguments, same weights."""
    from trl import RewardConfig, RewardTrainer

    out = Path(out_dir) if out_dir is not None else default_cache_dir(seed)
    if is_checkpoint(out):
        return out
    tokenizer = build_tiny_tokenizer(seed=seed)
    model = tiny_reward_classifier(tokenizer, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses to thread sync (10-50x on a busy box)
    try:
        args = RewardConfig(
            output_dir=str(work / "trainer"), max_steps=steps, per_device_train_batch_size=8,
            learning_rate=3e-3, lr_scheduler_type="constant", warmup_steps=0, seed=seed, data_seed=seed,
            use_cpu=True, bf16=False, report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, max_length=256, dataloader_num_workers=0, gradient_checkpointing=False,
        )
        trainer = RewardTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(preference_pairs(num_pairs, seed)),
            processing_class=tokenizer,
        )
        trainer.train()
        final = work / "model"
        trainer.model.save_pretrained(final)
        tokenizer.save_pretrained(final)
        _publish(final, out)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(work, ignore_errors=True)
    return out


def _publish(src: Path, out: Path) -> None:
    """Atomic rename; a concurrent builder that got there first wins and ours is dropped."""
    if out.exists() and not any(out.iterdir()):
        out.rmdir()
    try:
        src.rename(out)
    except OSError:
        if not is_checkpoint(out):
            raise
