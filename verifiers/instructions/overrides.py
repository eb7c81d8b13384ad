"""The few library checkers whose checks need NLTK data, rewired to offline tokenizers.

Each subclass keeps the library's ``build_description`` (and so its argument handling)
and replaces only ``check_following``, with the same logic but the tokenizers from
``offline_nlp``. ``RepeatSpanChecker`` is also pinned so ``n_start=0`` is honoured
instead of being replaced by a random index (the library treats 0 as "not given").

Four IFBench checks follow upstream IFBench HEAD where the packaged library is behind
it: keyword positions compare case-insensitively (punctuation tokens not counted as
words), title case rejects a lower-case one-letter word, and the quote check no longer
raises IndexError on text that is all digits and punctuation. ``letter_frequency``
counts a non-letter character as given (the library would pick a random letter).
"""

from __future__ import annotations

import string
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
    """IFBench: keyword is the m-th word of the n-th sentence, any case; punctuation
    tokens are not words."""

    def check_following(self, value: str) -> bool:
        sentences = ifbench.instructions_util.split_into_sentences(value)
        if len(sentences) < self._n:
            return False
        words = [w for w in word_tokenize(sentences[self._n - 1]) if any(c.isalnum() for c in w)]
        return len(words) >= self._m and words[self._m - 1].lower() == self._keyword.lower()


class WordsPositionChecker(ifbench.WordsPositionChecker):
    """IFBench: the second and second-to-last words are the keyword, any case; a final
    punctuation token is not the last word."""

    def check_following(self, value: str) -> bool:
        words = word_tokenize(value)
        if words and words[-1] in string.punctuation:
            words = words[:-1]
        keyword = self._keyword.lower()
        return len(words) >= 2 and words[1].lower() == words[-2].lower() == keyword


class TitleCaseChecker(ifbench.TitleCaseChecker):
    """IFBench: every word starting with a letter is capitalised ("i Am" fails; tokens
    starting with a digit or punctuation are skipped)."""

    def check_following(self, value: str) -> bool:
        for word in word_tokenize(value):
            if not word[:1].isalpha():
                continue
            if len(word) == 1:
                if word.islower():
                    return False
                continue
            if word[0].isupper() and word[1:].islower():
                continue
            if word[0].islower() and (word[1:].isupper() or word[1:].islower()):
                return False
        return True


class QuoteExplanationChecker(ifbench.QuoteExplanationChecker):
    """IFBench: no two quotes adjacent and the text does not end on a quote; text that
    strips to nothing (digits and punctuation only, or empty) passes instead of raising."""

    def check_following(self, value: str) -> bool:
        value = value.replace("\u201c", '"').replace("\u201d", '"').replace("'\"'", "")
        value = "".join(value.split())
        if '""' in value:
            return False
        stripped = value.strip(string.digits + string.punctuation.replace('"', ""))
        return not (stripped and stripped[-1] == '"')


class LetterFrequencyChecker(ifeval.LetterFrequencyChecker):
    """IFEval's letter count; a non-letter character (``#``, ``!``, ``7``) is counted as
    given instead of being swapped for a random letter. Letters are counted in any case."""

    def build_description(self, *, letter: str, let_frequency: int, let_relation: str) -> str:
        text = super().build_description(letter="a", let_frequency=let_frequency, let_relation=let_relation)
        self._letter = letter.lower()
        return text.replace("letter a ", f"letter {self._letter} ", 1)


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
    "format:quote_unquote": QuoteExplanationChecker,
    "keywords:letter_frequency": LetterFrequencyChecker,
    "repeat:repeat_span": RepeatSpanChecker,
}
