"""Task, Environment and Verifier contracts and their registries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import Task, UnknownEnvironmentError, get_env, list_envs
from verifiers import UnknownVerifierError, Verdict, Verifier, get_verifier, list_verifiers, verify_safely


def test_task_round_trips_through_json():
    task = get_env("arith/add").sample(seed=3, difficulty=2)
    again = Task.from_dict(json.loads(task.to_json()))
    assert again == task
    assert again.env_id == "arith/add" and again.difficulty == 2 and again.seed == 3


def test_environment_is_deterministic_in_its_arguments():
    env = get_env("arith/mul")
    assert env.sample(5, 1) == env.sample(5, 1)
    assert {env.sample(s, 1).prompt_text() for s in range(20)} != {env.sample(0, 1).prompt_text()}


def test_difficulty_widens_operands_and_is_clamped():
    env = get_env("arith/add", max_value=5)
    big = max(int(env.sample(s, 10).payload["answer"]) for s in range(50))
    small = max(int(env.sample(s, 0).payload["answer"]) for s in range(50))
    assert small <= 10 < big
    assert env.sample(0, 99).difficulty == 10


def test_reference_completion_is_judged_correct():
    task = get_env("arith/sub").sample(seed=1, difficulty=0)
    verdict = get_verifier(task.verifier).verify(task.reference, task.payload)
    assert verdict.correct and verdict.reward == 1.0


def test_unknown_ids_raise_named_errors():
    with pytest.raises(UnknownEnvironmentError, match="nope/nothing"):
        get_env("nope/nothing")
    with pytest.raises(UnknownVerifierError, match="no_such_verifier"):
        get_verifier("no_such_verifier")


def test_registries_list_builtins():
    assert {"arith/add", "arith/sub", "arith/mul"} <= {i.env_id for i in list_envs()}
    assert {"exact", "answer_format"} <= set(list_verifiers())


class _Boom(Verifier):
    def verify(self, completion, payload):
        raise RuntimeError("kaboom")


def test_verify_safely_turns_exceptions_into_verdicts():
    verdict = verify_safely(_Boom(), "x", {})
    assert verdict.reward == 0.0 and not verdict.correct
    assert verdict.reason == "verifier_error" and "kaboom" in verdict.details["error"]
    assert verify_safely(get_verifier("exact"), None, {}).reason == "bad_completion"
    assert verify_safely(get_verifier("exact"), "x", ["not", "a", "dict"]).reason == "bad_payload"


@pytest.mark.parametrize(
    ("completion", "reason", "reward"),
    [
        ("<answer>12</answer>", "correct", 1.0),
        ("thinking <answer> 12 </answer>", "correct", 1.0),
        ("<answer>12.0</answer>", "correct", 1.0),
        ("<answer>13</answer>", "wrong_answer", 0.0),
        ("<answer>11</answer><answer>12</answer>", "hedged", 0.0),
        ("12", "no_answer", 0.0),
        ("<answer>" + "1" * 500 + "</answer>", "answer_too_long", 0.0),
    ],
)
def test_exact_verifier(completion, reason, reward):
    verdict = get_verifier("exact").verify(completion, {"answer": "12"})
    assert (verdict.reason, verdict.reward) == (reason, reward)


def test_answer_format_pays_for_form_not_content():
    fmt = get_verifier("answer_format")
    assert fmt.verify("<answer>anything</answer>", {}).reward == 1.0
    assert fmt.verify("<answer></answer>", {}).reward == 0.0
    assert fmt.verify("<answer>a</answer><answer>b</answer>", {}).reward == 0.0


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=3000), st.binary(max_size=2000).map(lambda b: b.decode("latin-1"))))
def test_answer_verifiers_never_raise_on_junk(junk):
    for name in ("exact", "answer_format"):
        verdict = verify_safely(get_verifier(name), junk, {"answer": "7"})
        assert isinstance(verdict, Verdict)
        assert verdict.reason != "verifier_error"
        assert 0.0 <= verdict.reward <= 1.0


def test_arithmetic_splits_are_disjoint_and_cover_everything():
    def problems(split: str) -> set[str]:
        env = get_env("arith/add", max_value=9, split=split, test_fraction=0.3)
        return {env.sample(s, 0).prompt_text() for s in range(3000)}

    train, test, everything = problems("train"), problems("test"), problems("all")
    assert train and test and not (train & test)
    assert train | test == everything and len(everything) == 100
    assert 15 <= len(test) <= 45
