"""The few library checkers whose checks need NLTK data, rewired to offline tokenizers.

Each subclass keeps the library's ``build_description`` (and so its argument handling)
and replaces only ``check_following``, with the same logic but the tokenizers from
``offline_nlp``. ``RepeatSpanChecker`` is also pinned so ``n_start=0`` is honoured
instead of being replaced by a random index (the library treats 0 as "not given").
"""

from __future__ import annotations

from typing import Any

from verifiers.instructions.library import ifbench_instructions as ifbench
from verifiers.instructions.library import ifeval_instructions as ifeval
from verifiers.instructions.offline_nlp import sent_tokenize, word_tokenize

_LESS_THAN = "less than"


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == _LESS_THAN else count >= threshold


class NumberOfSentences(ifeval.NumberOfSentences):
    """IFEval's sentence count (Punkt sentences) with an offline Punkt model."""

    def check_following(self, value: str) -> bool:
        count = len(sent_tokenize(value))
        return _compare(count, self._comparison_relation, self._num_sentences_threshold)


class CapitalWordFrequencyChecker(ifeval.CapitalWordFrequencyChecker):
    """IFEval's all-caps word count over ``word_tokenize`` tokens, offline."""

    def check_following(self, value: str) -> bool:
        count = sum(1 for word in word_tokenize(value) if word.isupper())
        return _compare(count, self._comparison_relation, self._frequency)


class KeywordSpecificPositionChecker(ifbench.KeywordSpecificPositionChecker):
    """IFBench: keyword is the m-th token of the n-th sentence (regex sentences)."""

    def check_following(self, value: str) -> bool:
        sentences = ifbench.instructions_util.split_into_sentences(value)
        if len(sentences) < self._n:
            return False
        words = word_tokenize(sentences[self._n - 1])
        return len(words) >= self._m and words[self._m - 1] == self._keyword


class WordsPositionChecker(ifbench.WordsPositionChecker):
    """IFBench: the second and second-to-last tokens are the keyword."""

    def check_following(self, value: str) -> bool:
        words = word_tokenize(value)
        return len(words) >= 2 and words[1] == words[-2] == self._keyword


class TitleCaseChecker(ifbench.TitleCaseChecker):
    """IFBench: no token is lower-case-initial (library semantics, offline tokens)."""

    def check_following(self, value: str) -> bool:
        for word in word_tokenize(value):
            if word[0].isupper() and word[1:].islower():
                continue
            if word[0].islower() and (word[1:].isupper() or word[1:].islower()):
                return False
        return True


class RepeatSpanChecker(ifbench.RepeatSpanChecker):
    """IFBench's span copy, with the given indices kept exactly (0 included)."""

    def build_description(self, prompt_to_repeat: Any = None, n_start: Any = None, n_end: Any = None) -> str:
        text = super().build_description(prompt_to_repeat=prompt_to_repeat, n_start=n_start or 1, n_end=n_end or 1)
        if n_start is not None:
            self._n_start = n_start
        if n_end is not None:
            self._n_end = n_end
        return text


OVERRIDES: dict[str, type] = {
    "length_constraints:number_sentences": NumberOfSentences,
    "change_case:capital_word_frequency": CapitalWordFrequencyChecker,
    "words:keywords_specific_position": KeywordSpecificPositionChecker,
    "words:words_position": WordsPositionChecker,
    "format:title_case": TitleCaseChecker,
    "repeat:repeat_span": RepeatSpanChecker,
}
