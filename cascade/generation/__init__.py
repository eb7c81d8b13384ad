"""Rollout engines apart from training: the contract (``engine``), backends (``hf``, lazy ``vllm``),
the bounded-staleness buffer and producer, weight sync, and TRL's ``rollout_func`` hook."""

from cascade.generation.engine import Completion, RolloutEngine, SamplingParams, chat_token_ids, generate_texts

__all__ = ["Completion", "RolloutEngine", "SamplingParams", "chat_token_ids", "generate_texts"]
