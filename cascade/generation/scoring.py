"""Verification inside the rollout pipeline: finished groups are scored while the trainer trains.

``PipelineScorer`` verifies each finished group on a thread (the verifier pool does the work:
sandbox subprocesses or Ray actors), so a slow code verifier overlaps training instead of
stalling the trainer's reward step. The trainer's ``task`` reward then reads those verdicts
(``PrescoredTaskReward``) and keeps everything else it does: metrics, the ``correct`` flags for
the length bonus, curriculum feedback. Only the ``task`` reward is pre-scored.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from cascade.generation.buffer import Group
from cascade.rewards import TaskReward
from cascade.task_stream import task_from_json
from verifiers import Verdict


class PipelineScorer:
    """Verdicts for every completion of a group, computed on ``threads`` background threads."""

    def __init__(self, pool: Any, tokenizer: Any, threads: int = 2) -> None:
        self.pool, self.tokenizer = pool, tokenizer
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rollout-verify")

    def submit(self, groups: list[Group]) -> Future:
        return self._executor.submit(self._score, groups)

    def _score(self, groups: list[Group]) -> list[Group]:
        items = []
        for g in groups:
            task = task_from_json(g.task)
            texts = self.tokenizer.batch_decode([c.token_ids for c in g.completions], skip_special_tokens=True)
            items += [(task.verifier, text, task.payload) for text in texts]
        verdicts = self.pool.verify(items)
        at = 0
        for g in groups:
            g.verdicts, at = verdicts[at : at + len(g.completions)], at + len(g.completions)
        return groups

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Given:
    """A pool that answers with verdicts already computed (same order as the batch)."""

    def __init__(self, verdicts: list[Verdict]) -> None:
        self.verdicts = verdicts

    def verify(self, items: list[Any]) -> list[Verdict]:
        return list(self.verdicts)


class PrescoredTaskReward(TaskReward):
    """``TaskReward`` that uses the pipeline's verdicts (extra field ``verdict``) when every row has one."""

    @classmethod
    def wrapping(cls, reward: TaskReward) -> "PrescoredTaskReward":
        out = cls(reward.pool, reward.group_size, reward.stream, name=reward.__name__)
        return out

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], verdict: list[Any] | None = None,
                 **kwargs: Any) -> list[float]:
        if verdict is None or any(v is None for v in verdict):
            return super().__call__(prompts, completions, task, **kwargs)
        real, self.pool = self.pool, _Given(verdict)
        try:
            return super().__call__(prompts, completions, task, **kwargs)
        finally:
            self.pool = real
