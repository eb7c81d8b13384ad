"""The "math" verifier on the notations math-verify's own tests accept (issue 14): each
relaxation has a true equivalence and, next to it, the hack it must still refuse."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifiers import Verdict
from verifiers.math import MathVerifier
from verifiers.math.normalize import as_list, join_thousands, reduce_chain, repeating_decimal, split_percent, unwrap

# (family, gold, completion that is right, its false-positive twin)
FAMILIES = [
    ("several boxes, set gold", r"\{1,2,3\}", r"\boxed{1}, \boxed{2}, \boxed{3}", r"\boxed{1}, \boxed{2}, \boxed{3}, \boxed{4}"),
    ("several boxes, any order", r"\{1,2,3\}", r"\boxed{3} and \boxed{1} and \boxed{2}", r"\boxed{1} and \boxed{2}"),
    ("several boxes, pairs", "(2, 2), (6, 2)", r"\boxed{(6, 2)} \quad \text{and} \quad \boxed{(2, 2)}", r"\boxed{(6, 2)} \text{ and } \boxed{(2, 6)}"),
    ("several boxes, same value", r"\frac12", r"\boxed{\frac12} = \boxed{0.5}", r"\boxed{\frac12} = \boxed{0.6}"),
    ("and-gold", "1 and 2 and 3", r"\boxed{1,2,3}", r"\boxed{1,2}"),
    ("and-gold, text", r"6 \text{ and } 8", r"\boxed{6,8}", r"\boxed{6, 8, 10}"),
    ("and-gold, oxford comma", "19, 46, and 82", r"\boxed{82, 19, 46}", r"\boxed{19, 46, 83}"),
    ("inequality gold", "|x|>1", r"\boxed{(-\infty,-1)\cup(1,\infty)}", r"\boxed{(-\infty,-1)\cup(2,\infty)}"),
    ("double inequality gold", r"1\le|z|\le\frac32", r"\boxed{\left[-\frac32,-1\right]\cup\left[1,\frac32\right]}", r"\boxed{\left[-\frac32,-1\right)\cup\left[1,\frac32\right]}"),
    ("percent answer", "20", r"\boxed{20\%}", r"\boxed{0.2}"),
    ("percent gold", r"28\%", r"\boxed{28}", r"\boxed{2800}"),
    ("percent gold, value", r"28\%", r"\boxed{0.28}", r"\boxed{0.028}"),
    ("percent word", r"28\%", r"\boxed{28 \text{ percent}}", r"\boxed{28 \text{ or } 29 \text{ percent}}"),
    ("MATH thousands", "10000", r"\boxed{10,\!000}", r"\boxed{10, 000}"),
    ("MATH thousands, dollars", "16386.20", r"\boxed{\$16,\!386.20}", r"\boxed{\$16,\!386.21}"),
    ("thin-space thousands", "12345", r"\boxed{12\,345}", r"\boxed{12\,346}"),
    ("comma-space is a list", "32349", r"\boxed{32,\! 349}", r"\boxed{32, 349}"),
    ("bold", "9", r"\boxed{\mathbf{9}}", r"\boxed{\mathbf{8}}"),
    ("textbf", "10", r"\boxed{\textbf{10}}", r"\boxed{\textbf{10 or 11}}"),
    ("spacing", "12", r"\boxed{\; 12 \;}", r"\boxed{\; 12 \; 13}"),
    ("nested box", "2", r"\boxed{\boxed{2}}", r"\boxed{\boxed{2} \text{ or } \boxed{3}}"),
    ("text units, answer", "5", r"\boxed{\text{5 apples}}", r"\boxed{\text{5 or 6 apples}}"),
    ("text units, gold", r"\text{5 apples}", r"\boxed{5}", r"\boxed{\text{5 oranges}}"),
    ("scale words are not units", "5000", r"\boxed{5 \text{ thousand}}", r"\boxed{5 \text{ hundred}}"),
    ("scale words, text", "25", r"\boxed{\text{5 squared}}", r"\boxed{\text{5 cubed}}"),
    ("empty set", r"\emptyset", r"\boxed{\varnothing}", r"\boxed{\{0\}}"),
    ("empty set, gold", r"\varnothing", r"\boxed{\emptyset}", r"\boxed{0}"),
    ("repeating decimal", r"\frac13", r"\boxed{0.\overline{3}}", r"\boxed{0.\overline{4}}"),
    ("repeating tail", r"\frac16", r"\boxed{0.1\overline{6}}", r"\boxed{0.\overline{16}}"),
    ("e-notation", "120000", r"\boxed{1.2e5}", r"\boxed{1.2e4}"),
    ("e-notation, negative", "0.00012", r"\boxed{1.2e-4}", r"\boxed{1.2e-5}"),
    ("true chain", "5", r"\boxed{2 + 3 = 5}", r"\boxed{2 + 2 = 5}"),
    ("true chain, named", "x = 11", r"\boxed{x = 5+5+1 = 11}", r"\boxed{x = 5+5+1 = 7 = 11}"),
    ("true chain, functions", "3", r"\boxed{\log_2 8 = 3}", r"\boxed{\log_2 8 = 5 - 1}"),
    ("approximation note", "4", r"\boxed{x = 4 \approx 4.0}", r"\boxed{x = 5 = 4 \approx 4}"),
    ("percent after a thin space", "0.05", r"\boxed{5\,\%}", r"\boxed{5\,\% \text{ or } 6\,\%}"),
    ("exact decimal", r"\frac18", r"\boxed{0.125}", r"\boxed{0.12}"),
    ("stated final answer", "10455", r"so \boxed{255} more: Final Answer: The final answer is $10,455$. I hope it is correct.",
     r"\boxed{10455}. Final Answer: The final answer is $10,456$. I hope it is correct."),
]

# Must never be rewarded (gold, completion); benchmarks/math_agreement.py counts these too.
HACKS = [
    ("32349", r"\boxed{32, 349}"),
    ("5", r"\boxed{2 + 2 = 5}"),
    ("5", r"\boxed{x = 3 = 5}"),
    ("5", r"\boxed{5 = 3}"),
    ("5", r"\boxed{\pi = 5}"),
    ("5", r"\boxed{\log_2 8 = 5}"),
    ("1", r"\boxed{\sin 0 = 1}"),
    ("x = 11", r"\boxed{x = 5+5+1 = 7 = 11}"),
    (r"\frac{2}{3}", r"\boxed{0.666667}"),
    (r"\frac{1}{3}", r"\boxed{0.3333333}"),
    (r"\frac{1}{3}", r"\boxed{0.33333333333333333333}"),
    (r"\sqrt{2}", r"\boxed{1.414214}"),
    (r"\frac{\sqrt{3}}{2}", r"\boxed{0.866025}"),
    ("3", r"\boxed{3}, \boxed{4}"),
    ("3", r"\boxed{3 \text{ and } 4}"),
    ("3", r"\boxed{3}\boxed{3}\boxed{4}"),
    (", ".join(map(str, range(1, 21))), "".join(rf"\boxed{{{i}}}" for i in range(1, 21))),
    ("20", r"\boxed{20\% \text{ or } 30\%}"),
    ("10000", r"\boxed{10, 000}"),
    ("5", r"\boxed{\text{5 or 6 apples}}"),
    ("3", r"Final Answer: The final answer is $3 \text{ or } 4$. I hope it is correct."),
    ("5", r"\boxed{5 \text{ thousand}}"),
    ("5", r"\boxed{\text{5 thousand}}"),
    ("5", r"\boxed{5 \text{ squared}}"),
    ("2", r"\boxed{2 \text{ dozen}}"),
    ("3", r"The final answer is $3$. No wait: \boxed{4}"),
    ("3", r"\boxed{4}. Final Answer: The final answer is $3$ or $4$. I hope it is correct."),
    ("3", "The final answer is $3$ if n is odd, else $4$."),
]


@pytest.fixture(scope="module")
def mv() -> MathVerifier:
    v = MathVerifier(timeout_s=5.0)
    v.warmup()
    return v


@pytest.mark.parametrize("family,gold,good,bad", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_accepts_the_equivalence_and_refuses_its_twin(mv: MathVerifier, family: str, gold: str, good: str, bad: str) -> None:
    ok = mv.verify(good, {"answer": gold})
    assert ok.correct and ok.reward == 1.0, ok
    twin = mv.verify(bad, {"answer": gold})
    assert not twin.correct and twin.reward == 0.0, twin


@pytest.mark.parametrize("gold,completion", HACKS)
def test_hacks_get_no_reward(mv: MathVerifier, gold: str, completion: str) -> None:
    v = mv.verify(completion, {"answer": gold})
    assert not v.correct and v.reward == 0.0, v


def test_hedge_and_chain_reasons_say_why(mv: MathVerifier) -> None:
    assert mv.verify(r"\boxed{32, 349}", {"answer": "32349"}).reason == "hedged"
    assert mv.verify(r"\boxed{3}, \boxed{4}", {"answer": "3"}).reason == "hedged"
    v = mv.verify(r"\boxed{x = 3 = 5}", {"answer": "5"})
    assert v.reason == "wrong_answer" and v.details["false_side"] == "3"


def test_long_chains_and_many_boxes_stay_within_the_deadline() -> None:
    v = MathVerifier(timeout_s=2.0)
    v.warmup()
    chain = " = ".join(f"{i}+{i}" for i in range(1, 20)) + " = 2"
    boxes = "".join(rf"\boxed{{{i}+1}} " for i in range(1, 8)) + r"\boxed{2}"
    for completion in (rf"\boxed{{{chain}}}", boxes):
        t = time.monotonic()
        got = v.verify(completion, {"answer": "2"})
        assert not got.correct and time.monotonic() - t < 2.0 + 4.0, got


HOSTILE = ["x" + " " * 5000 + "y", "x" + "\\," * 2500 + "y", " and" * 1500, "1=" * 2500, "5 " * 2500 + "thousands",
           "\\text{5 " + "a " * 2000 + "}", "x" + " \\; " * 1000, "{" * 3000]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_rewrites_take_linear_paths_on_hostile_answers(mv: MathVerifier, text: str) -> None:
    # each of these once took seconds in a backtracking regex; through the verifier they
    # must be judged (too long, or wrong) like any other answer, and the rewrites must return
    for f in (unwrap, as_list, split_percent, reduce_chain, join_thousands):
        f(text)
    for completion in (r"\boxed{" + text + "}", r"\boxed{" + text + r"} and \boxed{1}"):
        assert not mv.verify(completion, {"answer": "1, 2"}).correct


def test_decimal_gold_keeps_math_verify_rounding(mv: MathVerifier) -> None:
    # the gold's own digits set the precision; an exact answer that rounds to it is right
    assert mv.verify(r"\boxed{16386.2}", {"answer": "16386.20"}).correct
    assert mv.verify(r"\boxed{\frac{1}{2}}", {"answer": "0.5"}).correct
    assert not mv.verify(r"\boxed{0.34}", {"answer": "0.33"}).correct


def test_string_rewrites() -> None:
    assert unwrap(r"\; \mathbf{\boxed{7}} \;") == "7"
    assert join_thousands(r"10,\!000") == "10000" and join_thousands(r"1\,234.5") == "1234.5"
    assert join_thousands("32, 349") is None and join_thousands("1000,99") is None
    assert repeating_decimal(r"0.\overline{142857}") * 7 == 1
    assert split_percent("28 pct") == ("28", True) and split_percent("x%y") == ("x%y", False)
    assert as_list(r"(1, 2) \text{ and } \{3 \text{ and } 4\}") == r"(1, 2), \{3 \text{ and } 4\}"
    assert reduce_chain("x = 2+2 = 4, y = 1") == ("x = 4, y = 1", [("4", "2+2")])
    assert reduce_chain(r"x \le 3") == (r"x \le 3", [])


junk = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="0123456789.,=+-\\%{}()[] boxedtxandorpercentoverline!;e", max_size=120),
    st.lists(st.text(alphabet="0123456789,.=\\!{} andx%", max_size=12), max_size=12).map(
        lambda xs: " and ".join(r"\boxed{" + x + "}" for x in xs)
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(completion=junk, gold=st.sampled_from([r"\{1,2,3\}", "10000", r"28\%", "|x|>1", r"\text{5 apples}", "x = 11", r"\frac13"]))
def test_junk_in_new_paths_never_raises(mv: MathVerifier, completion: str, gold: str) -> None:
    v = mv.verify(completion, {"answer": gold})
    assert isinstance(v, Verdict) and v.reward in (0.0, 1.0) and v.correct == (v.reward == 1.0)
    for f in (unwrap, join_thousands, repeating_decimal, split_percent, as_list, reduce_chain):
        f(completion)
