"""The rollout engine contract: the one generation path of the project.

Training (through TRL's ``rollout_func``), the pass-rate filter, ``cascade eval``, ``cascade rsa``
and ``rsa-rollouts`` all sample through an object with this interface:

``generate(prompts_token_ids, n, sampling) -> list[Completion]``
    ``n`` completions per prompt, grouped: completions ``[i*n:(i+1)*n]`` answer prompt ``i``.
    Each carries its token ids, the per-token log-probs of the *sampling* distribution (after the
    same temperature / top-k / top-p processing that drew the token: the behaviour policy DPPO
    compares against), why it stopped, the weight version it was sampled with, and for ZAYA the
    class (expert or skip) every router picked for every prompt+completion position.
``update_weights(weights, version)``
    Load new trainer weights (a state dict, or a Ray object ref to one) and take ``version``.
``version`` / ``returns_routes``
    The loaded weight version; whether completions carry routes (a backend that cannot return
    them makes router replay fail at stage start, never silently turn off).

Routes follow ``cascade.recipe.router_replay``: int16 ``(prompt_len + completion_len, layers,
top_k)`` class ids in ``[0, E]`` (``E`` = skip) with ``-1`` where no record exists (the last
sampled token, which generation never feeds back). Backends: ``hf`` (``cascade.generation.hf``)
and ``vllm`` (``cascade.generation.vllm``, imported lazily).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``extra`` passes further HF ``GenerationConfig`` fields (TRL's generation_kwargs)."""

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float | None = None
    repetition_penalty: float = 1.0
    stop_token_ids: tuple[int, ...] = ()  # empty: the engine's own EOS ids
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_trainer(cls, trainer: Any) -> "SamplingParams":
        """The exact settings a TRL GRPOTrainer samples with in-process."""
        kwargs = dict(getattr(trainer, "generation_kwargs", None) or {})
        known = {k: kwargs.pop(k) for k in ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty") if k in kwargs}
        for k in ("do_sample", "pad_token_id", "bos_token_id", "eos_token_id"):
            kwargs.pop(k, None)
        if known.get("top_k") is None:
            known["top_k"] = 0
        stop = tuple(int(e) for e in (getattr(trainer, "eos_token_ids", None) or ()))
        return cls(**known, stop_token_ids=stop, extra={k: v for k, v in kwargs.items() if v is not None})


@dataclass
class Completion:
    """One sampled completion. ``routes`` is None when the backend or model records none."""

    prompt_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: FinishReason
    weight_version: int
    routes: np.ndarray | None = None  # int16 (len(prompt_ids) + len(token_ids), layers, top_k)
    router_entropy: np.ndarray | None = None  # float32 (len(prompt_ids) + len(token_ids), layers), for telemetry


@runtime_checkable
class RolloutEngine(Protocol):
    """What every backend implements (an ``hf`` actor, a ``vllm`` actor, a test double)."""

    @property
    def version(self) -> int: ...

    @property
    def returns_routes(self) -> bool: ...

    def generate(self, prompts_token_ids: list[list[int]], n: int, sampling: SamplingParams) -> list[Completion]: ...

    def update_weights(self, weights: Any, version: int) -> None: ...


def chat_token_ids(tokenizer: Any, prompts: list[Any]) -> list[list[int]]:
    """Token ids of chat prompts with the generation prompt appended, as TRL's ``_tokenize_prompts``
    renders them when no tools or custom template are set."""
    from cascade.task_stream import as_chat

    if not prompts:
        return []
    out = tokenizer.apply_chat_template([as_chat(p) for p in prompts], add_generation_prompt=True, tokenize=True, return_dict=True)
    return [list(ids) for ids in out["input_ids"]]


def generate_texts(engine: RolloutEngine, tokenizer: Any, prompts: list[Any], n: int, sampling: SamplingParams) -> list[list[str]]:
    """``n`` decoded completions per text or chat prompt: what the filter, eval and RSA consume."""
    flat = engine.generate(chat_token_ids(tokenizer, prompts), n, sampling) if prompts else []
    texts = tokenizer.batch_decode([c.token_ids for c in flat], skip_special_tokens=True) if flat else []
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]
