"""Degeneracy gate (zlib compression of token ids) and the rare-token canary.

Byte encoding: each completion token id is written as a little-endian uint32 (4 bytes per
token), so a 1024-byte chunk is 256 tokens and the result does not depend on the tokenizer's
decoding. A loop of a few tokens compresses to a few percent of its size; real text does not.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def token_bytes(ids: Sequence[int]) -> bytes:
    """Token ids as little-endian uint32 bytes."""
    return np.asarray(ids, dtype="<u4").tobytes()


def min_chunk_ratio(ids: Sequence[int], chunk_bytes: int = 1024, level: int = 1) -> float:
    """Smallest zlib(level) compressed/raw size ratio over consecutive ``chunk_bytes`` windows."""
    data = token_bytes(ids)
    if not data:
        return 1.0
    return min(
        len(zlib.compress(data[i : i + chunk_bytes], level)) / len(data[i : i + chunk_bytes])
        for i in range(0, len(data), chunk_bytes)
    )


def is_degenerate(ids: Sequence[int], min_ratio: float = 0.05, chunk_bytes: int = 1024) -> bool:
    """True when any chunk compresses below ``min_ratio`` (the rollout's reward is then forced to 0)."""
    return min_chunk_ratio(ids, chunk_bytes) < min_ratio


def rare_token_fraction(completions: Sequence[Sequence[int]], vocab_size: int, quantile: float) -> float:
    """Share of completion tokens whose id is >= quantile * vocab_size.

    BPE vocabularies put late (rare) merges and reserved/special tokens at the top of the id
    range, so a rising share there is an early sign of a collapsing or glitching policy.
    """
    cutoff = int(quantile * vocab_size)
    total = sum(len(c) for c in completions)
    if total == 0:
        return 0.0
    return sum(int(np.count_nonzero(np.asarray(c) >= cutoff)) for c in completions) / total
