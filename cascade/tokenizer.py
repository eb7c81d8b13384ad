"""A small byte-level BPE tokenizer for the tiny CI policy, trained offline and deterministically.

Digits are split one per token so arithmetic stays learnable for a tiny model; the
byte-level alphabet means any text (including hostile model output) round-trips.
"""

from __future__ import annotations

import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|im_start|>", "<|im_end|>"]
# Answer markup the verifiers look for; one token each makes the format easy to learn.
MARKUP_TOKENS = ["<answer>", "</answer>", "\\boxed{"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_WORDS = (
    "the a an of to in is and or for with what compute calculate find solve answer final put your "
    "inside tags boxed value result number numbers sum product difference plus minus times divided "
    "by equals respond response write code python function input output test return print def class "
    "solution list string integer each line first last word words sentence paragraph lowercase "
    "uppercase letter letters comma commas title end phrase must should at least most exactly please "
    "explain think step how many why when which who where there this that these those be are was "
    "were it its you we they he she not no yes true false problem question given following below"
).split()


def _corpus(seed: int = 0, lines: int = 4000) -> list[str]:
    """Deterministic training text shaped like the prompts and answers the envs produce."""
    rng = random.Random(seed)
    out = [
        "<answer>", "</answer>", "\\boxed{", "}", "```python", "```",
        "Put your final answer within <answer> </answer> tags.",
        "Put your final answer in \\boxed{}.",
    ]
    ops = ["+", "-", "*", "/", "="]
    for _ in range(lines):
        kind = rng.random()
        if kind < 0.4:
            a, b = rng.randint(0, 999), rng.randint(0, 999)
            out.append(f"What is {a} {rng.choice(ops)} {b}? <answer>{a + b}</answer> \\boxed{{{a - b}}}")
        elif kind < 0.8:
            out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 15))).capitalize() + ".")
        else:
            out.append(f"def f(x):\n    return x {rng.choice(ops)} {rng.randint(0, 9)}\nprint(f(int(input())))")
    return out


def build_tiny_tokenizer(vocab_size: int = 1024, seed: int = 0) -> PreTrainedTokenizerFast:
    """Train the tiny BPE; same arguments give the same vocabulary, byte for byte."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    tok.add_tokens(MARKUP_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        bos_token="<|bos|>",
        eos_token="<|im_end|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast
