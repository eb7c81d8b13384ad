"""TRL reward functions built from verifiers: scores, logged metrics, curriculum feedback."""

from __future__ import annotations

from collections import defaultdict

from cascade.config import EnvSpec, RewardSpec
from cascade.rewards import TaskReward, build_rewards, completion_text
from cascade.task_stream import TaskStream
from envs import get_env
from envs.curriculum import make_curriculum
from verifiers.pool import LocalVerifierPool


def test_completion_text_accepts_chat_and_plain():
    assert completion_text("x") == "x"
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]) == "ab"


def test_task_reward_scores_logs_and_feeds_the_curriculum():
    curriculum = make_curriculum("zaya", ["arith/add"], initial_difficulty=2)
    stream = TaskStream([EnvSpec(id="arith/add")], seed=0, curriculum=curriculum)
    tasks = [get_env("arith/add").sample(s, 2) for s in (1, 2)]
    group = 2
    batch = [t for t in tasks for _ in range(group)]
    completions = [[{"role": "assistant", "content": c}] for c in ("<answer>-1</answer>", "no idea", "nope", "<answer>x</answer>")]
    metrics: dict[str, float] = {}
    extra: dict[str, list] = defaultdict(list)
    reward = TaskReward(LocalVerifierPool(), group_size=group, stream=stream)
    rewards = reward(
        [t.prompt for t in batch], completions, task=[t.to_json() for t in batch],
        log_metric=metrics.__setitem__, log_extra=lambda col, vals: extra[col].extend(vals),
    )
    assert rewards == [0.0, 0.0, 0.0, 0.0]
    assert extra["correct"] == [False] * 4
    assert metrics["task/accuracy"] == 0.0
    assert metrics["task/reason/no_answer"] == 0.5 and metrics["task/reason/wrong_answer"] == 0.5
    # two all-fail groups at d=2: the ZAYA1 rule steps difficulty down
    assert curriculum.controller.difficulty("arith/add") < 2


def test_task_reward_pays_correct_answers():
    task = get_env("arith/mul").sample(4, 0)
    reward = TaskReward(LocalVerifierPool(), group_size=1)
    assert reward(["p"], [task.reference], task=[task.to_json()]) == [1.0]


def test_build_rewards_keeps_order_and_weights():
    funcs, weights = build_rewards(
        [RewardSpec(name="task", weight=1.0), RewardSpec(name="answer_format", weight=0.2)], LocalVerifierPool(), 4, None
    )
    assert [f.__name__ for f in funcs] == ["task", "answer_format"] and weights == [1.0, 0.2]
    task = get_env("arith/add").sample(0, 0)
    assert funcs[1](["p"], ["<answer>whatever</answer>"], task=[task.to_json()]) == [1.0]
