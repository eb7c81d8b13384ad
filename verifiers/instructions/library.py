"""Imports the if-verifiable checker modules without letting them reach the network.

``if_verifiable.ifbench`` calls ``nltk.download`` for missing data when it is imported.
Training machines are offline and must never fetch data at run time, so the import runs
with ``nltk.download`` replaced by a no-op; the checks that would need that data are
either rewired (``overrides``) or declared unsupported (``schema.UNSUPPORTED``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import langdetect
import nltk


@contextlib.contextmanager
def _no_nltk_downloads() -> Iterator[None]:
    original = nltk.download
    nltk.download = lambda *args, **kwargs: False  # type: ignore[assignment]
    try:
        yield
    finally:
        nltk.download = original  # type: ignore[assignment]


with _no_nltk_downloads():
    from if_verifiable.common import get_loose_transformations, strip_thinking
    from if_verifiable.ifbench import instructions as ifbench_instructions
    from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT as IFBENCH_CLASSES
    from if_verifiable.ifeval import instructions as ifeval_instructions
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT as IFEVAL_CLASSES

# langdetect is randomised unless seeded; a reward must not change between two calls.
langdetect.DetectorFactory.seed = 0

__all__ = [
    "IFBENCH_CLASSES",
    "IFEVAL_CLASSES",
    "get_loose_transformations",
    "ifbench_instructions",
    "ifeval_instructions",
    "strip_thinking",
]
