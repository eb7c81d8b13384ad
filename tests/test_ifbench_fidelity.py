"""IFBench checks that follow upstream IFBench HEAD where the packaged library lags, the
defined letter_frequency verdict for non-letters, and bad-payload messages that name
the problem. Each case is written from the behaviour, not copied from upstream tests."""

from __future__ import annotations

import pytest

from verifiers.base import get_verifier, verify_safely
from verifiers.instructions import InstructionsVerifier

V = InstructionsVerifier()


def passes(instruction_id: str, kwargs: dict, text: str) -> bool:
    verdict = V.verify(text, {"instruction_id_list": [instruction_id], "kwargs": [kwargs]})
    assert verdict.reason in ("correct", "constraint_failed"), verdict
    return verdict.correct


@pytest.mark.parametrize("text", ["Sun rises early.", "SUN rises early.", "sun rises early."])
def test_keyword_specific_position_ignores_case(text):
    assert passes("words:keywords_specific_position", {"keyword": "sun", "n": 1, "m": 1}, text)
    assert not passes("words:keywords_specific_position", {"keyword": "sun", "n": 1, "m": 2}, text)


def test_keyword_specific_position_does_not_count_punctuation_as_words():
    kwargs = {"keyword": "moon", "n": 2, "m": 2}
    assert passes("words:keywords_specific_position", kwargs, "First one. Then, moon rose.")
    assert not passes("words:keywords_specific_position", kwargs, "First one. Then a moon rose.")


@pytest.mark.parametrize("text", ["A Word in a Word here", "a WORD is Word here"])
def test_words_position_ignores_case(text):
    assert passes("words:words_position", {"keyword": "word"}, text)


def test_words_position_skips_a_final_punctuation_token():
    assert passes("words:words_position", {"keyword": "sun"}, "The sun is sun today.")
    assert not passes("words:words_position", {"keyword": "sun"}, "The sun is sun.")  # "is" is second-to-last


@pytest.mark.parametrize("text, ok", [
    ("I Am A Test", True), ("i Am A Test", False), ("Hello, World!", True), ("Test 123 Numbers", True),
    ("Test (With Parentheses)", True), ("The big Dog", False), ("The BIG Dog", True),
])
def test_title_case_rejects_lower_case_one_letter_words(text, ok):
    assert passes("format:title_case", {}, text) is ok


@pytest.mark.parametrize("text, ok", [
    ("123...", True), ("42!", True), ('"Carpe diem" means seize the day.', True),
    ('He said "carpe diem"', False), ('"a" "b" are letters', False), ("\u201ca\u201d\u201cb\u201d are two", False),
])
def test_quote_unquote_never_fails_a_valid_response_on_an_internal_error(text, ok):
    verdict = V.verify(text, {"instruction_id_list": ["format:quote_unquote"], "kwargs": [{}]})
    assert verdict.correct is ok and "error" not in verdict.details["constraints"][0]


@pytest.mark.parametrize("char, text, count", [("#", "# one ## two", 3), ("!", "Hi! Yes!!", 3), ("7", "7 x 77", 3),
                                               ("Z", "zz Z", 3), ("z", "ZZ z", 3)])
def test_letter_frequency_counts_the_given_character(char, text, count):
    for frequency in (count, count + 1):
        kwargs = {"letter": char, "let_frequency": frequency, "let_relation": "at least"}
        assert passes("keywords:letter_frequency", kwargs, text) is (count >= frequency)
        kwargs["let_relation"] = "less than"
        assert passes("keywords:letter_frequency", kwargs, text) is (count < frequency)


@pytest.mark.parametrize("payload, message", [
    ({"instruction_id_list": ["format:made_up_rule"]}, "unknown instruction id 'format:made_up_rule'"),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 3}]},
     "'length_constraints:number_words'): missing kwarg 'relation'"),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": "3", "relation": "at least"}]},
     "kwarg 'num_words' must be an integer, got str"),
    ({"instruction_id_list": ["format:title_case"], "kwargs": [{}, {}]},
     "'kwargs' has 2 entries but 'instruction_id_list' has 1"),
    ({"instruction_id_list": ["keywords:letter_frequency"], "kwargs": [{"letter": "ab", "let_frequency": 1,
                                                                       "let_relation": "at least"}]},
     "kwarg 'letter' must be a single non-space character, got 'ab'"),
])
def test_bad_instruction_payloads_name_the_problem(payload, message):
    verdict = V.verify("Some text.", payload)
    assert verdict.reason == "bad_payload" and message in verdict.details["error"]


@pytest.mark.parametrize("payload, message", [
    ({"outputs": ["1"]}, "missing 'inputs'"),
    ({"inputs": "1", "outputs": ["1"]}, "'inputs' must be a list, got str"),
    ({"inputs": ["1", "2"], "outputs": ["1"]}, "'inputs' has 2 entries but 'outputs' has 1"),
    ({"inputs": [], "outputs": []}, "'inputs' is empty"),
    ({"inputs": ["[1"], "outputs": ["1"], "fn_name": "f"}, "inputs[0] is not JSON"),
    ({"inputs": ["[1]"], "outputs": ["1"], "fn_name": "not a name"}, "'fn_name' must be a Python identifier"),
    ({"inputs": [3], "outputs": ["3"]}, "inputs[0] must be a string for a stdin test, got int"),
    ({"inputs": ["1"], "outputs": ["1"], "time_limit_s": "fast"}, "'time_limit_s' must be a positive number"),
])
def test_bad_code_payloads_name_the_problem(payload, message):
    verdict = get_verifier("code", time_limit_s=1.0).verify("print(1)", payload)
    assert verdict.reason == "bad_payload" and message in verdict.details["error"]


def test_other_verifiers_name_their_payload_problem():
    assert "'expected_output' must be a string" in get_verifier("code_output").verify("x", {}).details["error"]
    code_input = get_verifier("code_input", time_limit_s=1.0).verify("x", {"reference": "print(1)"})
    assert code_input.details["error"] == "missing 'target_output'"
    breaker = get_verifier("code_breaker", time_limit_s=1.0).verify("x", {"reference": 1, "wrong": "x"})
    assert breaker.details["error"] == "'reference' must be a string, got int"
    assert verify_safely(V, "x", ["not", "a", "dict"]).details["error"] == "payload must be a JSON object, got list"
