"""What each constraint id accepts as kwargs, so a payload is checked before it is used.

The library checkers replace a missing or out-of-range kwarg with a *random* value, which
would make a reward change from call to call. We therefore validate every kwarg up front:
each id lists its kwargs with a validator; all listed kwargs are required (null = not
given), except ``prompt_to_repeat``, which falls back to the payload's ``prompt``.
Validators return the normalised value or raise ``ValueError`` with a short message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], Any]
RELATIONS = ("less than", "at least")


def _int(minimum: int) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be an integer, got {type(value).__name__}")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"must be an integer, got {value!r}")
        if value < minimum:
            raise ValueError(f"must be >= {minimum}, got {int(value)}")
        return int(value)

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _regex(value: Any) -> str:
    """A string the checker uses as a regular expression (IFEval's keyword semantics)."""
    value = _text(value)
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"is not a valid pattern ({exc})") from None
    return value


def _regex_list(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("must be a non-empty list of strings")
    return [_regex(item) for item in value]


def _relation(value: Any) -> str:
    if value not in RELATIONS:
        raise ValueError(f"must be one of {list(RELATIONS)}, got {value!r}")
    return value


def _letter(value: Any) -> str:
    """One character: a letter (counted in any case) or a symbol/digit counted as given."""
    if not isinstance(value, str) or len(value) != 1 or value.isspace():
        raise ValueError(f"must be a single non-space character, got {value!r}")
    return value


INT0, INT1 = _int(0), _int(1)

IFEVAL_KWARGS: dict[str, dict[str, Validator]] = {
    "keywords:existence": {"keywords": _regex_list},
    "keywords:frequency": {"keyword": _regex, "frequency": INT0, "relation": _relation},
    "keywords:forbidden_words": {"forbidden_words": _regex_list},
    "keywords:letter_frequency": {"letter": _letter, "let_frequency": INT0, "let_relation": _relation},
    "language:response_language": {"language": _text},
    "length_constraints:number_sentences": {"num_sentences": INT0, "relation": _relation},
    "length_constraints:number_paragraphs": {"num_paragraphs": INT0},
    "length_constraints:number_words": {"num_words": INT0, "relation": _relation},
    "length_constraints:nth_paragraph_first_word": {"num_paragraphs": INT1, "nth_paragraph": INT1, "first_word": _text},
    "detectable_content:number_placeholders": {"num_placeholders": INT0},
    "detectable_content:postscript": {"postscript_marker": _regex},
    "detectable_format:number_bullet_lists": {"num_bullets": INT0},
    "detectable_format:constrained_response": {},
    "detectable_format:number_highlighted_sections": {"num_highlights": INT0},
    "detectable_format:multiple_sections": {"section_spliter": _regex, "num_sections": INT0},
    "detectable_format:json_format": {},
    "detectable_format:title": {},
    "combination:two_responses": {},
    "combination:repeat_prompt": {"prompt_to_repeat": _text},
    "startend:end_checker": {"end_phrase": _text},
    "change_case:capital_word_frequency": {"capital_frequency": INT0, "capital_relation": _relation},
    "change_case:english_capital": {},
    "change_case:english_lowercase": {},
    "punctuation:no_comma": {},
    "startend:quotation": {},
}

_NO_ARGS = (
    "ratio:sentence_type ratio:sentence_balance words:alphabet words:vowel words:consonants "
    "sentence:alliteration_increment words:palindrome count:punctuation format:parentheses "
    "format:quotes words:prime_lengths format:newline format:emoji ratio:sentence_words "
    "words:odd_even_syllables words:last_first words:paragraph_last_first words:no_consecutive "
    "format:line_indent format:quote_unquote format:thesis format:sub-bullets "
    "format:no_bullets_bullets custom:multiples custom:mcq_count_length custom:reverse_newline "
    "custom:word_reverse custom:character_reverse custom:sentence_alphabet "
    "custom:european_capitals_sort custom:csv_city custom:csv_special_character custom:csv_quotes "
    "custom:date_format_list repeat:repeat_simple format:title_case format:output_template "
    "format:no_whitespace"
).split()

IFBENCH_KWARGS: dict[str, dict[str, Validator]] = {
    **{instruction_id: {} for instruction_id in _NO_ARGS},
    "count:word_count_range": {"min_words": INT0, "max_words": INT0},
    "count:unique_word_count": {"N": INT0},
    "count:conjunctions": {"small_n": INT0},
    "count:person_names": {"N": INT0},
    "ratio:overlap": {"reference_text": _text, "percentage": INT0},
    "count:numbers": {"N": INT0},
    "format:options": {"options": _text},
    "count:words_japanese": {"N": INT1},
    "words:repeats": {"small_n": INT0},
    "sentence:keyword": {"word": _text, "N": INT1},
    "count:pronouns": {"N": INT0},
    "sentence:increment": {"small_n": INT0},
    "format:list": {"sep": _text},
    "count:keywords_multiple": {f"keyword{i}": _text for i in range(1, 6)},
    "words:keywords_specific_position": {"keyword": _text, "n": INT1, "m": INT1},
    "words:words_position": {"keyword": _text},
    "repeat:repeat_change": {"prompt_to_repeat": _text},
    "repeat:repeat_span": {"prompt_to_repeat": _text, "n_start": INT0, "n_end": INT0},
}

# IFBench ids the library has but that cannot be checked offline, with the reason.
UNSUPPORTED: dict[str, str] = {
    "ratio:stop_words": "needs the NLTK stopwords corpus, which cannot be downloaded at run time",
    "words:start_verb": "needs the NLTK part-of-speech tagger model, which cannot be downloaded at run time",
}

# Cross-kwarg rules that the library would otherwise "repair" with a random value.
CROSS_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "length_constraints:nth_paragraph_first_word": lambda kw: (
        "nth_paragraph must be <= num_paragraphs" if kw["nth_paragraph"] > kw["num_paragraphs"] else None
    ),
}


def is_null(value: Any) -> bool:
    """HF-hub rows carry every kwarg key with null for unused ones (NaN after pandas)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
