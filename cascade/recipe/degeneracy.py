"""Degeneracy gate (zlib compression of token ids) and the rare-token canary.

Byte encoding: each completion token id is written as a little-endian uint32 (4 bytes per
token), so a 1024-byte chunk is 256 tokens and the result does not depend on the tokenizer's
decoding.

The compressor is the report's streaming construction: one raw-deflate stream per completion
(``zlib.compressobj(level=1, wbits=-10)``: no header, a 1 KB window), each chunk fed in turn and
flushed with ``Z_SYNC_FLUSH``; a chunk's ratio is the bytes the stream emitted for that chunk over
the chunk's size. Because the stream carries its window across chunks, a loop that started in an
earlier chunk costs only back-references in later ones: loops of period 8-10 tokens score about
0.02-0.045 from the second chunk on and are gated at 0.05 (compressing each chunk on its own,
they score 0.05-0.06 and pass). Real text does not compress below a few tenths.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def token_bytes(ids: Sequence[int]) -> bytes:
    """Token ids as little-endian uint32 bytes."""
    return np.asarray(ids, dtype="<u4").tobytes()


LEVEL = 1
WBITS = -10  # raw deflate (no zlib header), 2**10 = 1 KB window


def chunk_ratios(ids: Sequence[int], chunk_bytes: int = 1024) -> list[float]:
    """Per-chunk ratio of one streaming raw-deflate pass: bytes out for the chunk / chunk bytes."""
    data = token_bytes(ids)
    stream = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS)
    ratios = []
    for i in range(0, len(data), chunk_bytes):
        chunk = data[i : i + chunk_bytes]
        emitted = len(stream.compress(chunk)) + len(stream.flush(zlib.Z_SYNC_FLUSH))
        ratios.append(emitted / len(chunk))
    return ratios


def min_chunk_ratio(ids: Sequence[int], chunk_bytes: int = 1024) -> float:
    """Smallest per-chunk ratio of the streaming compressor (1.0 for an empty completion)."""
    return min(chunk_ratios(ids, chunk_bytes), default=1.0)


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
