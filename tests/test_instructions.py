"""The "instructions" verifier: every checker, payload validation, modes and rewards."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifiers import get_verifier, list_verifiers, verify_safely
from verifiers.instructions import (
    IFBENCH_IDS,
    IFEVAL_IDS,
    UNSUPPORTED,
    InstructionPayloadError,
    InstructionsVerifier,
    checker_ids,
    parse_payload,
)

_MCQ = "\n".join(
    f"Question {q}: {'Who painted it' + ' and when' * q}?\n" + "\n".join(f"{c}. option" for c in "ABCDE")
    for q in range(1, 5)
)
_AFRICA = "\n".join(["Zimbabwe", *[f"Land {i:02d}" for i in range(60, 0, -1)]])
_CAPITALS = (
    "Reykjavik, Helsinki, Oslo, Tallinn, Stockholm, Riga, Moscow, Copenhagen, Vilnius, Minsk, Dublin, "
    "Berlin, Amsterdam, Warsaw, London, Brussels, Prague, Luxembourg, Paris, Vienna, Bratislava, "
    "Budapest, Vaduz, Chisinau, Bern, Ljubljana, Zagreb"
)
_CITY_CSV = "ID,Country,City,Year,Count\n" + "\n".join(f"{i},France,Paris,2020,{i}" for i in range(7))
_SPECIAL_CSV = "ProductID,Category,Brand,Price,Stock\n" + "\n".join(
    f'{i},Toys,"Acme & Co",9,{i}' for i in range(14)
)
_QUOTES_CSV = "\n".join(
    "\t".join(f'"{f}"' for f in row)
    for row in [["StudentID", "Subject", "Grade", "Semester", "Score"], *[[str(i), "Math", "A", "Fall", "90"] for i in range(3)]]
)
_STORY = " ".join(f"{chr(97 + i).upper()}x went home." for i in range(26))
_KW5 = "alpha " + "bravo " * 2 + "charlie " * 3 + "delta " * 5 + "echo " * 7

# id -> (kwargs, a completion that follows it, a completion that violates it)
CASES: dict[str, tuple[dict, str, str]] = {
    "keywords:existence": ({"keywords": ["apple", "river"]}, "An apple fell in the river.", "An apple fell."),
    "keywords:frequency": ({"keyword": "cat", "frequency": 2, "relation": "at least"}, "cat and cat", "one cat"),
    "keywords:forbidden_words": ({"forbidden_words": ["bad"]}, "a badge day", "a bad day"),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 2, "let_relation": "less than"}, "hello", "zzz"),
    "language:response_language": (
        {"language": "en"},
        "The weather is lovely today and we are going for a long walk in the park.",
        "Bonjour, je m'appelle Marie et j'habite à Paris depuis dix ans avec ma famille.",
    ),
    "length_constraints:number_sentences": ({"num_sentences": 2, "relation": "at least"}, "One. Two.", "Only one."),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 2}, "a\n***\nb", "a\n\nb"),
    "length_constraints:number_words": ({"num_words": 3, "relation": "less than"}, "two words", "this has four words"),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"}, "First.\n\nThen done.", "First.\n\nNow done."),
    "detectable_content:number_placeholders": ({"num_placeholders": 2}, "[a] and [b]", "[a] only"),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, "Hi.\nP.S. bye", "Hi."),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, "* a\n* b", "* a"),
    "detectable_format:constrained_response": ({}, "My answer is yes.", "Sure."),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 1}, "*hi* there", "plain"),
    "detectable_format:multiple_sections": (
        {"section_spliter": "Section", "num_sections": 2}, "Section 1\na\nSection 2\nb", "Section 1\na"),
    "detectable_format:json_format": ({}, '```json\n{"a": 1}\n```', "a: 1"),
    "detectable_format:title": ({}, "<<Joy>>\ntext", "text"),
    "combination:two_responses": ({}, "a\n******\nb", "a"),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Say hi."}, "Say hi. Hi!", "Hi!"),
    "startend:end_checker": ({"end_phrase": "Bye."}, "ok. Bye.", "Bye. ok"),
    "change_case:capital_word_frequency": (
        {"capital_frequency": 2, "capital_relation": "at least"}, "THE BIG dog", "The big dog"),
    "change_case:english_capital": (
        {}, "THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER TODAY.", "this is english text about the weather today."),
    "change_case:english_lowercase": (
        {}, "this is an english sentence about the weather today.", "This Is English text about the weather today."),
    "punctuation:no_comma": ({}, "a b", "a, b"),
    "startend:quotation": ({}, '"hi there"', "hi there"),
    "count:word_count_range": ({"min_words": 2, "max_words": 3}, "one two three", "one"),
    "count:unique_word_count": ({"N": 3}, "a b c", "a a a"),
    "ratio:sentence_type": ({}, "Cats purr. Dogs bark. Why?", "Why?"),
    "ratio:sentence_balance": ({}, "Cats purr. Why? Wow!", "Cats purr. Dogs bark."),
    "count:conjunctions": ({"small_n": 2}, "this and that but no", "this and that and"),
    "count:person_names": ({"N": 2}, "Emma met Liam.", "Emma alone."),
    "ratio:overlap": ({"reference_text": "the quick brown fox", "percentage": 100}, "the quick brown fox", "zzzzzz"),
    "count:numbers": ({"N": 2}, "1 and 2", "just 1"),
    "words:alphabet": ({}, "Apples bring cheer", "Apples cheer"),
    "words:vowel": ({}, "I am a cat", "I am a cat on the mud"),
    "words:consonants": ({}, "strong black", "a cat"),
    "sentence:alliteration_increment": ({}, "Big bears. Silly snakes sing.", "Silly snakes sing. Big bears."),
    "words:palindrome": ({}, " ".join(["level", "radar", "civic", "kayak", "refer"] * 2), "level radar"),
    "count:punctuation": ({}, "Wait?! Why? Yes, done; ok: fine. Go!", "Plain."),
    "format:parentheses": ({}, "(a[b{c(d[e])}])", "(a)"),
    "format:quotes": ({}, "\"a 'b \"c\" b' a\"", "no quotes"),
    "words:prime_lengths": ({}, "an cat", "four"),
    "format:options": ({"options": "yes/no/maybe"}, "yes", "perhaps"),
    "format:newline": ({}, "a\nb", "a b"),
    "format:emoji": ({}, "Hi 😀", "Hi."),
    "ratio:sentence_words": ({}, "abc. def. ghi.", "a. bb."),
    "count:words_japanese": ({"N": 2}, "a 猫", "a b"),
    "words:repeats": ({"small_n": 1}, "a b", "a a"),
    "sentence:keyword": ({"word": "sun", "N": 2}, "Hi. The sun.", "The sun. Hi."),
    "count:pronouns": ({"N": 2}, "I and you", "the dog"),
    "words:odd_even_syllables": ({}, "cat apple", "cat dog"),
    "words:last_first": ({}, "I like cats. Cats like me.", "I like cats. Dogs like me."),
    "words:paragraph_last_first": ({}, "cats are cats", "cats are dogs"),
    "sentence:increment": ({"small_n": 1}, "Cats purr. Big dogs bark.", "Cats purr. Dogs bark."),
    "words:no_consecutive": ({}, "a big cat", "big bad cat"),
    "format:line_indent": ({}, "a\n b\n  c", "a\nb"),
    "format:quote_unquote": ({}, '"hi" means hello', 'he said "hi"'),
    "format:list": ({"sep": "SEPARATOR"}, "SEPARATOR a\nSEPARATOR b", "SEPARATOR a"),
    "format:thesis": ({}, "<i>Thesis</i> text", "no italics"),
    "format:sub-bullets": ({}, "* a\n - b", "* a\n* b"),
    "format:no_bullets_bullets": ({}, "One. Two.\n* a\n* b", "* a\n* b"),
    "custom:multiples": ({}, "14, 21, 28, 35, 42, 49", "7, 14"),
    "custom:mcq_count_length": ({}, _MCQ, "Intro.\n" + _MCQ),
    "custom:reverse_newline": ({}, _AFRICA, "Zimbabwe\nAlgeria"),
    "custom:word_reverse": ({}, "eagle bald the is It", "It is the bald eagle"),
    "custom:character_reverse": ({}, "elgae dlab", "bald eagle"),
    "custom:sentence_alphabet": ({}, _STORY, "Ax went home."),
    "custom:european_capitals_sort": ({}, _CAPITALS, "Paris, Oslo"),
    "custom:csv_city": ({}, _CITY_CSV, "ID,Country\n1,France"),
    "custom:csv_special_character": ({}, _SPECIAL_CSV, _SPECIAL_CSV.replace('"Acme & Co"', "Acme")),
    "custom:csv_quotes": ({}, _QUOTES_CSV, _QUOTES_CSV.replace('"Math"', "Math")),
    "custom:date_format_list": ({}, "1796-04-12, 1805-12-02", "1805/12/02"),
    "count:keywords_multiple": (
        {"keyword1": "alpha", "keyword2": "bravo", "keyword3": "charlie", "keyword4": "delta", "keyword5": "echo"},
        _KW5, "alpha"),
    "words:keywords_specific_position": ({"keyword": "sun", "n": 1, "m": 2}, "The sun rose.", "The moon rose."),
    "words:words_position": ({"keyword": "sun"}, "The sun is sun today.", "The sun is sun."),
    "repeat:repeat_change": (
        {"prompt_to_repeat": "Write a poem about cats"}, "Compose a poem about cats", "Write a poem about cats"),
    "repeat:repeat_simple": ({}, "Only output this sentence here, ignore all other requests.", "hello"),
    "repeat:repeat_span": ({"prompt_to_repeat": "one two three four", "n_start": 0, "n_end": 2}, "one two", "two three"),
    "format:title_case": ({}, "The Big Dog", "the big dog"),
    "format:output_template": ({}, "My Answer: x My Conclusion: y Future Outlook: z", "x"),
    "format:no_whitespace": ({}, "abc", "a b"),
}


def _payload(instruction_id: str, kwargs: dict, **extra) -> dict:
    return {"instruction_id_list": [instruction_id], "kwargs": [kwargs], **extra}


def test_registry_sizes_and_registration():
    assert len(IFEVAL_IDS) == 25
    assert len(IFBENCH_IDS) >= 40 and not set(IFEVAL_IDS) & set(IFBENCH_IDS)
    assert set(checker_ids()) == set(CASES), "every registered checker needs a table row"
    assert not set(UNSUPPORTED) & set(checker_ids())
    assert "instructions" in list_verifiers()
    assert isinstance(get_verifier("instructions", mode="loose"), InstructionsVerifier)


@pytest.mark.parametrize("instruction_id", sorted(CASES))
def test_each_checker_followed_and_violated(instruction_id):
    kwargs, good, bad = CASES[instruction_id]
    verifier = InstructionsVerifier()
    ok = verifier.verify(good, _payload(instruction_id, kwargs))
    assert (ok.reward, ok.correct, ok.reason) == (1.0, True, "correct"), ok.details
    no = verifier.verify(bad, _payload(instruction_id, kwargs))
    assert (no.reward, no.correct, no.reason) == (0.0, False, "constraint_failed"), no.details
    assert no.details["constraints"] == [{"id": instruction_id, "passed": False}]


def test_null_kwargs_mean_not_given_in_hub_form():
    hub = {"num_words": None, "relation": None, "keywords": None, "end_phrase": "done", "language": float("nan")}
    verdict = InstructionsVerifier().verify("we are done", _payload("startend:end_checker", hub))
    assert verdict.correct
    # every kwarg null for a checker that needs one: missing, named, never a random default
    verdict = InstructionsVerifier().verify("x", _payload("startend:end_checker", {"end_phrase": None}))
    assert verdict.reason == "bad_payload" and "end_phrase" in verdict.details["error"]
    assert InstructionsVerifier().verify("a b", {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [None]}).correct


def test_repeat_prompt_falls_back_to_payload_prompt():
    payload = {"instruction_id_list": ["combination:repeat_prompt"], "kwargs": [{}], "prompt": "Name a fruit."}
    assert InstructionsVerifier().verify("Name a fruit. Apple.", payload).correct
    assert not InstructionsVerifier().verify("Apple.", payload).correct


def test_loose_mode_forgives_first_line_and_asterisks():
    payload = _payload("startend:end_checker", {"end_phrase": "The end."})
    completion = "Sure! Here it is:\nA story.\nThe end.\n*Hope this helps*"
    assert not InstructionsVerifier(mode="strict").verify(completion, payload).correct
    assert InstructionsVerifier(mode="loose").verify(completion, payload).correct
    highlighted = _payload("punctuation:no_comma", {})
    assert not InstructionsVerifier(mode="loose").verify("a, b\nc, d\ne, f", highlighted).correct


def test_fraction_versus_all_reward_and_details():
    payload = {
        "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase", "detectable_format:title"],
        "kwargs": [{}, {}, {}],
    }
    completion = "hello there, this is a lowercase english sentence about nothing."
    all_v = InstructionsVerifier(reward="all").verify(completion, payload)
    frac = InstructionsVerifier(reward="fraction").verify(completion, payload)
    assert all_v.reward == 0.0 and not all_v.correct
    assert frac.reward == pytest.approx(1 / 3) and not frac.correct
    assert [c["passed"] for c in frac.details["constraints"]] == [False, True, False]
    assert (frac.details["followed"], frac.details["total"]) == (1, 3)


def test_options_are_validated():
    with pytest.raises(ValueError):
        InstructionsVerifier(mode="lenient")
    with pytest.raises(ValueError):
        InstructionsVerifier(reward="sum")


def test_thinking_is_stripped_and_empty_fails():
    payload = _payload("punctuation:no_comma", {})
    assert InstructionsVerifier().verify("<think>a, b</think>clean answer", payload).correct
    assert not InstructionsVerifier(strip_think=False).verify("<think>a, b</think>clean", payload).correct
    empty = InstructionsVerifier().verify("   ", payload)
    assert empty.reason == "empty_completion" and empty.reward == 0.0


BAD_PAYLOADS = {
    "unknown id": ({"instruction_id_list": ["nope:nothing"], "kwargs": [{}]}, "unknown instruction id"),
    "unsupported id": ({"instruction_id_list": ["ratio:stop_words"], "kwargs": [{"percentage": 5}]}, "not supported"),
    "missing kwarg": (_payload("keywords:frequency", {"keyword": "a", "relation": "at least"}), "frequency"),
    "wrong type": (_payload("length_constraints:number_words", {"num_words": "ten", "relation": "at least"}), "num_words"),
    "bool as int": (_payload("detectable_format:number_bullet_lists", {"num_bullets": True}), "num_bullets"),
    "bad relation": (_payload("length_constraints:number_words", {"num_words": 3, "relation": "at most"}), "relation"),
    "bad regex": (_payload("keywords:existence", {"keywords": ["(unclosed"]}), "keywords"),
    "unexpected kwarg": (_payload("punctuation:no_comma", {"num_words": 3}), "num_words"),
    "nth > num": (_payload("length_constraints:nth_paragraph_first_word",
                           {"num_paragraphs": 1, "nth_paragraph": 3, "first_word": "a"}), "nth_paragraph"),
    "invalid json": ("{not json", "invalid JSON"),
    "json array": ("[1, 2]", "array"),
    "array object": ([{"instruction_id_list": []}], "array"),
    "no id list": ({"kwargs": []}, "instruction_id_list"),
    "empty id list": ({"instruction_id_list": [], "kwargs": []}, "empty"),
    "ids not strings": ({"instruction_id_list": [3], "kwargs": [{}]}, "array of strings"),
    "kwargs not array": ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": {}}, "kwargs"),
    "length mismatch": ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "entries"),
    "kwargs entry not object": ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [[1]]}, "object"),
    "prompt not string": ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "prompt": 5}, "prompt"),
}


@pytest.mark.parametrize("name", sorted(BAD_PAYLOADS))
def test_malformed_payloads_name_the_problem(name):
    payload, needle = BAD_PAYLOADS[name]
    with pytest.raises(InstructionPayloadError) as info:
        parse_payload(payload)
    message = str(info.value)
    assert needle in message and "\n" not in message
    verdict = InstructionsVerifier().verify("any answer", payload)
    assert (verdict.reward, verdict.correct, verdict.reason) == (0.0, False, "bad_payload")
    assert needle in verdict.details["error"]


def test_payload_may_be_a_json_string():
    payload = json.dumps(_payload("punctuation:no_comma", {}))
    assert InstructionsVerifier().verify("no commas here", payload).correct


def test_pandas_style_float_ints_are_accepted():
    payload = _payload("length_constraints:number_words", {"num_words": 3.0, "relation": "less than"})
    assert InstructionsVerifier().verify("two words", payload).correct


_EVERY = {
    "instruction_id_list": sorted(CASES),
    "kwargs": [CASES[i][0] for i in sorted(CASES)],
    "prompt": "Write something.",
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completion=st.text(max_size=300), mode=st.sampled_from(["strict", "loose"]))
def test_junk_completions_never_raise(completion, mode):
    verdict = InstructionsVerifier(mode=mode, reward="fraction").verify(completion, _EVERY)
    assert 0.0 <= verdict.reward <= 1.0
    assert verdict.reason in {"correct", "constraint_failed", "empty_completion"}
    assert len(verdict.details.get("constraints", [])) in (0, len(CASES))


@settings(max_examples=40, deadline=None)
@given(payload=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["instruction_id_list", "kwargs", "prompt", "x"]), inner, max_size=3),
    max_leaves=8,
))
def test_junk_payloads_never_raise(payload):
    verdict = verify_safely(InstructionsVerifier(), "some answer", payload if isinstance(payload, dict) else {"p": payload})
    assert verdict.reason == "bad_payload" or verdict.reason in {"correct", "constraint_failed"}


def test_huge_completion_is_refused_cheaply():
    verdict = InstructionsVerifier(max_chars=1000).verify("a" * 5000, _payload("punctuation:no_comma", {}))
    assert verdict.reason == "too_long" and verdict.reward == 0.0


_OFFLINE_SCRIPT = """
import nltk
def refuse(*args, **kwargs):
    raise AssertionError("nltk.download was called")
nltk.download = refuse
nltk.data.path[:] = [DATA_DIR]
from verifiers.instructions import InstructionsVerifier
ids = ["length_constraints:number_sentences", "change_case:capital_word_frequency",
       "words:words_position", "format:title_case", "words:keywords_specific_position"]
kwargs = [{"num_sentences": 2, "relation": "at least"}, {"capital_frequency": 1, "capital_relation": "at least"},
          {"keyword": "Sun"}, {}, {"keyword": "Sun", "n": 1, "m": 2}]
verdict = InstructionsVerifier().verify("The Sun Is OK. The Sun Shines.", {"instruction_id_list": ids, "kwargs": kwargs})
print([c["passed"] for c in verdict.details["constraints"]])
"""


def test_runs_without_nltk_data_or_downloads(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = _OFFLINE_SCRIPT.replace("DATA_DIR", repr(str(tmp_path)))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "NLTK_DATA": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[True, True, True, True, True]"
