"""The "math" verifier: equivalent notations pass, hedges and known false positives fail,
hostile completions are judged quickly and never raise."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifiers import Verdict, get_verifier, verify_safely
from verifiers.math import MathVerifier
from verifiers.math.answer import split_units
from verifiers.math.extract import extract_answer, find_boxed, normalize_text

TIMEOUT = 2.0
MARGIN = 4.0  # a killed worker's replacement must import sympy; the box is shared


@pytest.fixture(scope="module")
def mv() -> MathVerifier:
    v = MathVerifier(timeout_s=TIMEOUT)
    v.warmup()
    return v


def judge(v: MathVerifier, gold: str, completion: str) -> Verdict:
    return v.verify(completion, {"answer": gold})


EQUIVALENT = [
    ("7", r"Adding gives \boxed{7}."),
    ("7", r"\boxed{7.0}"),
    (r"\frac12", r"\boxed{0.5}"),
    (r"\frac12", r"\boxed{50\%}"),
    ("1/2", r"\boxed{\dfrac{1}{2}}"),
    ("(2,5]", r"\boxed{2 < x \le 5}"),
    (r"\{1,2\}", r"\boxed{\{2,1\}}"),
    ("3", r"\boxed{x = 3}"),
    (r"2\sqrt{2}", r"\boxed{2√2}"),
    (r"\pi", r"\boxed{π}"),
    ("12", r"\boxed{１２}"),
    ("-3", r"\boxed{−3}"),
    ("x^2", r"\boxed{x²}"),
    ("x+1", r"\boxed{1+x}"),
    (r"1-\frac{1}{e}", r"\boxed{\frac{e-1}{e}}"),
    ("y=2x+1", r"\boxed{2x+1=y}"),
    ("x^2-x=0", r"\boxed{x-x^2=0}"),
    ("1000", r"\boxed{1,000}"),
    (r"5\text{ m}", r"\boxed{5 \text{ m}}"),
    (r"5\text{ m}", r"\boxed{5}"),
    ("30^\\circ", r"\boxed{30°}"),
    (r"\text{even}", r"\boxed{\text{Even}}"),
    (r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{1}{2}\sqrt3}"),
    ("3", r"I boxed it twice: \boxed{3} ... so \boxed{3}"),
    ("3", "<answer>3</answer>"),
]

WRONG = [
    ("7", r"\boxed{8}", "wrong_answer"),
    (r"\frac{1}{2004!}", r"\boxed{\frac{1}{2006!}}", "wrong_answer"),  # math-verify says equal
    (r"\frac{1}{2^{99}}", r"\boxed{\frac{1}{2^{98}}}", "wrong_answer"),  # math-verify says equal
    (r"2 \times 10^{-20}", r"\boxed{10^{-20}}", "wrong_answer"),  # math-verify says equal
    (r"1-\frac{1}{e}", r"\boxed{1+\frac{1}{e}}", "wrong_answer"),
    ("x = x", r"\boxed{y = y}", "wrong_answer"),  # both sides differ to 0; math-verify says equal
    ("x+1=x+1", r"\boxed{0=0}", "wrong_answer"),  # math-verify says equal
    ("y=2x+1", r"\boxed{y=2x+3}", "wrong_answer"),
    (r"1-\frac{1}{\mathrm{e}}", r"\boxed{1}", "wrong_answer"),  # gold would mis-parse as 1
    ("1/3", r"\boxed{0.333}", "wrong_answer"),
    (r"5\text{ m}", r"\boxed{5\text{ cm}}", "wrong_answer"),  # math-verify strips the units
    ("5 kg", r"\boxed{5 g}", "wrong_answer"),
    ("3", r"\boxed{3 \text{ or } 4}", "hedged"),
    ("3", r"\boxed{3 or 4}", "hedged"),
    ("3", r"\boxed{3, 4}", "hedged"),
    ("3", r"\boxed{\pm 3}", "hedged"),
    ("3", r"\boxed{3} or maybe \boxed{4}", "hedged"),
    ("4", r"\boxed{3} or maybe \boxed{4}", "hedged"),
    ("3", "The answer is 3.", "no_answer"),  # default: boxed, then <answer> tags only
    ("3", r"so \boxed{3", "no_answer"),
    ("3", "", "no_answer"),
    ("3", r"\boxed{" + "1+" * 400 + "1}", "answer_too_long"),
]


@pytest.mark.parametrize("gold,completion", EQUIVALENT)
def test_equivalent_forms_are_correct(mv: MathVerifier, gold: str, completion: str) -> None:
    v = judge(mv, gold, completion)
    assert (v.reason, v.reward, v.correct) == ("correct", 1.0, True), v
    assert v.extracted


@pytest.mark.parametrize("gold,completion,reason", WRONG)
def test_wrong_hedged_and_missing_answers_get_zero(mv: MathVerifier, gold: str, completion: str, reason: str) -> None:
    v = judge(mv, gold, completion)
    assert v.reason == reason, v
    assert v.reward == 0.0 and not v.correct


def test_extracted_answer_is_the_last_box_only(mv: MathVerifier) -> None:
    v = MathVerifier(several_boxes="last").verify(r"first \boxed{4}, final \boxed{3}", {"answer": "3"})
    assert v.correct and v.extracted == "3"
    assert not MathVerifier(several_boxes="last").verify(r"\boxed{3} then \boxed{4}", {"answer": "3"}).correct


def test_fallbacks_are_options() -> None:
    v = MathVerifier(fallbacks=("answer_line", "last_number"))
    assert v.verify("...\nFinal answer: 42", {"answer": "42"}).correct
    assert v.verify("I think it is 41 or so, actually 42", {"answer": "42"}).correct
    assert v.verify(r"\boxed{41} and the answer is 42", {"answer": "42"}).reason == "wrong_answer"
    assert MathVerifier(fallbacks=()).verify("<answer>42</answer>", {"answer": "42"}).reason == "no_answer"
    with pytest.raises(ValueError):
        MathVerifier(fallbacks=("telepathy",))


def test_payload_alternatives_and_bad_payloads(mv: MathVerifier) -> None:
    assert mv.verify(r"\boxed{6}", {"answer": "5", "alternatives": ["6"]}).correct
    assert mv.verify(r"\boxed{5}", {"answer": 5}).correct
    for payload in ({}, {"answer": None}, {"answer": True}, {"answer": ""}, {"answer": "1", "fallbacks": "x"}):
        assert mv.verify(r"\boxed{5}", payload).reason == "bad_payload"


def test_registered_and_safe_through_registry() -> None:
    v = get_verifier("math", timeout_s=TIMEOUT)
    assert isinstance(v, MathVerifier)
    assert verify_safely(v, r"\boxed{2}", {"answer": "2"}).correct


def test_require_units_option() -> None:
    assert not MathVerifier(require_units=True).verify(r"\boxed{5}", {"answer": r"5\text{ m}"}).correct
    assert split_units(r"5\text{ cm}") == ("5", "cm")
    assert split_units("5x") == ("5x", None)


def test_unicode_normalisation() -> None:
    assert normalize_text("√2 × π ≤ ３").split() == [r"\sqrt{2}", r"\times", r"\pi", r"\le", "3"]
    assert find_boxed(r"\boxed{a{b}c} \boxed{") == ["a{b}c", None]


def test_huge_completion_only_tail_counts(mv: MathVerifier) -> None:
    junk = "x{" * 2_000_000
    t = time.monotonic()
    assert mv.verify(junk + r" so \boxed{7}", {"answer": "7"}).correct
    assert mv.verify(r"\boxed{7}" + junk, {"answer": "7"}).reason == "no_answer"
    assert time.monotonic() - t < 1.0


def test_slow_sympy_times_out_within_deadline() -> None:
    v = MathVerifier(timeout_s=1.0)
    v.warmup()
    t = time.monotonic()
    verdict = v.verify(r"\boxed{99999999^{99999999}}", {"answer": "2"})
    assert verdict.reason == "timeout" and verdict.reward == 0.0
    assert time.monotonic() - t < 1.0 + MARGIN
    # the killed worker was replaced: the verifier still works afterwards
    assert v.verify(r"\boxed{\frac{2}{4}}", {"answer": "1/2"}).correct


def test_callable_from_threads(mv: MathVerifier) -> None:
    cases = [(g, c, True) for g, c in EQUIVALENT[:10]] + [(g, c, False) for g, c, _ in WRONG[:10]]
    with ThreadPoolExecutor(6) as ex:
        got = list(ex.map(lambda gc: judge(mv, gc[0], gc[1]).correct, cases * 2))
    assert got == [ok for _, _, ok in cases] * 2


def _in_child(args: tuple[str, str]) -> bool:
    return MathVerifier(timeout_s=10).verify(args[1], {"answer": args[0]}).correct


def test_callable_from_several_processes() -> None:
    cases = [(r"\frac{1}{2}", r"\boxed{0.5}"), (r"\frac{1}{2004!}", r"\boxed{\frac{1}{2006!}}")] * 2
    with ProcessPoolExecutor(2) as ex:
        assert list(ex.map(_in_child, cases)) == [True, False, True, False]


junk_text = st.one_of(
    st.text(max_size=400),
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    st.text(alphabet="{}\\boxed^_()[]0123456789+-*/=.,$ ", max_size=300),
    st.builds(lambda s: r"\boxed{" + s, st.text(max_size=200)),
    st.builds(lambda s: r"\boxed{" + s + "}", st.text(alphabet="0123456789+-*/^{}()!.\\fracsqrt ", max_size=60)),
    st.integers(1, 200).map(lambda n: "{" * n + r"\boxed{" * n + "}" * n),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(completion=junk_text, gold=st.sampled_from(["7", r"\frac{1}{2}", "(2,5]", "x+1", r"5\text{ m}"]))
def test_junk_never_raises_and_stays_within_timeout(mv: MathVerifier, completion: str, gold: str) -> None:
    t = time.monotonic()
    v = mv.verify(completion, {"answer": gold})
    assert time.monotonic() - t < TIMEOUT + MARGIN
    assert isinstance(v, Verdict) and v.reward in (0.0, 1.0) and v.correct == (v.reward == 1.0)
    assert v.reason in {"correct", "wrong_answer", "no_answer", "hedged", "answer_too_long", "timeout", "parse_error"}


def test_extraction_scans_only_the_tail() -> None:
    ext = extract_answer(r"\boxed{1}" + "a" * 10_000, max_scan_chars=6000)
    assert ext.answer is None and ext.source == "none"
