"""TRL reward functions built from verifiers.

TRL calls each reward function with the batch's prompts, completions and every dataset
column (here ``task``, one JSON Task per completion). ``TaskReward`` scores each
completion with the verifier its Task names; ``VerifierReward`` applies one named
verifier (a format reward, say) to every completion. Verdict reasons and accuracy are
logged through TRL's ``log_metric`` so they land in the run's metrics.

With N training workers each rank scores its own share of the batch; accuracy, reasons and
the curriculum's feedback are computed over the verdicts of every rank (gathered in rank
order, which is the global batch order), so the metrics are global and every rank's copy
of the curriculum applies the same update. Every rank calls the reward functions the same
number of times (TRL does), which the gather relies on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from cascade.config import RewardSpec
from cascade.distributed import all_gather_list
from cascade.task_stream import TaskStream, task_from_json
from envs import Task
from envs.registry import Registry
from verifiers import Verdict


def completion_text(completion: Any) -> str:
    """TRL passes chat completions as message lists; verifiers want the text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


class _PoolReward:
    """Shared plumbing: verify through the pool, log reasons and accuracy, remember verdicts."""

    def __init__(self, name: str, pool: Any, group_size: int) -> None:
        self.__name__ = name  # TRL names metrics after the function
        self.pool = pool
        self.group_size = group_size
        self.last_verdicts: list[Verdict] = []
        self.totals: Counter[str] = Counter()

    def _score(self, items: list[tuple[str, str, dict[str, Any]]], log_metric: Any) -> list[Verdict]:
        verdicts = self.pool.verify(items)
        self.last_verdicts = verdicts
        outcomes = all_gather_list([(bool(v.correct), v.reason) for v in verdicts])  # the global batch
        reasons = Counter(reason for _, reason in outcomes)
        self.totals.update(reasons)
        if log_metric is not None and outcomes:
            log_metric(f"{self.__name__}/accuracy", sum(c for c, _ in outcomes) / len(outcomes))
            for reason, n in reasons.items():
                log_metric(f"{self.__name__}/reason/{reason}", n / len(outcomes))
        return verdicts


class TaskReward(_PoolReward):
    """Each completion judged by its own Task's verifier; verdicts feed the curriculum."""

    def __init__(self, pool: Any, group_size: int, stream: TaskStream | None = None, name: str = "task") -> None:
        super().__init__(name, pool, group_size)
        self.stream = stream

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], **kwargs: Any) -> list[float]:
        tasks: list[Task] = [task_from_json(t) for t in task]
        texts = [completion_text(c) for c in completions]
        verdicts = self._score([(t.verifier, x, t.payload) for t, x in zip(tasks, texts)], kwargs.get("log_metric"))
        if kwargs.get("log_extra") is not None:  # the recipe's length bonus counts verifier-correct rollouts
            kwargs["log_extra"]("correct", [v.correct for v in verdicts])
        if self.stream is not None:
            self.stream.observe_global(tasks, verdicts, self.group_size)
        return [v.reward for v in verdicts]


class VerifierReward(_PoolReward):
    """One named verifier applied to every completion, with the Task's payload."""

    def __init__(self, verifier: str, pool: Any, group_size: int) -> None:
        super().__init__(verifier, pool, group_size)
        self.verifier = verifier

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], **kwargs: Any) -> list[float]:
        payloads = [task_from_json(t).payload for t in task]
        texts = [completion_text(c) for c in completions]
        verdicts = self._score([(self.verifier, x, p) for x, p in zip(texts, payloads)], kwargs.get("log_metric"))
        return [v.reward for v in verdicts]


# Reward functions a config can name besides verifier names (which score with that verifier).
# ``reward_model`` is declared by path: cascade.rm_reward builds on this module, so importing
# it here would be a cycle.
REWARDS: Registry[Any] = Registry("reward")
REWARDS.add("task", TaskReward)
REWARDS.declare("reward_model", "cascade.rm_reward:RewardModelReward")


def build_rewards(
    specs: list[RewardSpec], pool: Any, group_size: int, stream: TaskStream | None
) -> tuple[list[Any], list[float]]:
    """Reward functions and their weights for GRPOConfig.reward_weights."""
    funcs: list[Any] = []
    for spec in specs:
        if spec.name == "task":
            funcs.append(TaskReward(pool, group_size, stream))
        elif spec.name in REWARDS:
            funcs.append(REWARDS.get(spec.name)(pool, group_size, stream, **spec.options))
        else:
            funcs.append(VerifierReward(spec.name, pool, group_size))
    return funcs, [spec.weight for spec in specs]


def pool_verifier_options(verifiers: dict[str, dict[str, Any]], specs: list[RewardSpec]) -> dict[str, dict[str, Any]]:
    """Options the verifier pool builds each verifier with: the config's ``verifiers:`` (top level,
    then the stage's) plus the options of rewards named after a verifier (load-time checks forbid
    the two disagreeing)."""
    out = {name: dict(opts) for name, opts in verifiers.items()}
    for spec in specs:
        if spec.options and spec.name not in REWARDS:
            out[spec.name] = {**out.get(spec.name, {}), **spec.options}
    return out
