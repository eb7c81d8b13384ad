"""``reward_model``: the behavioral stage's reward, a reward-model score behind a checker gate.

Report stage 4: "If the completion fails the IF gate, its reward is set to zero; passes are
scored by the reward model." With ``gate: task`` each completion is first judged by its
Task's own verifier (through the pool, feeding the curriculum like the ``task`` reward);
failures get ``floor`` and only passes reach the reward model. Without a gate every
completion is scored. ``normalize: sigmoid`` maps scores into (0, 1). The model runs in one Ray
actor per stage: the ranks of a multi-worker stage share it (at 8B, one GPU instead of one per rank).

Options: ``path`` (checkpoint dir or hub id; ``tiny`` builds the CI model into a cache),
``gate`` (null | task), ``floor`` (0.0), ``batch_size`` (16), ``num_gpus`` (0),
``num_cpus`` (0), ``normalize`` (null | sigmoid), ``timeout_s`` (300), ``max_length``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cascade.rewards import TaskReward, completion_text
from cascade.task_stream import TaskStream

log = logging.getLogger(__name__)
GATES = (None, "task")
NORMALIZERS = (None, "sigmoid")
_OPTIONS = {
    "path", "gate", "floor", "batch_size", "num_gpus", "num_cpus", "normalize", "timeout_s", "max_length", "seed",
}


def check_options(options: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with a ``reward_model`` reward's options as ``(key, message)``; checked at config load."""
    problems = [(k, f"unknown option {k!r} (known: {', '.join(sorted(_OPTIONS))})") for k in options if k not in _OPTIONS]
    if options.get("gate") not in GATES:
        problems.append(("gate", f"must be one of {GATES}, got {options.get('gate')!r}"))
    if options.get("normalize") not in NORMALIZERS:
        problems.append(("normalize", f"must be one of {NORMALIZERS}, got {options.get('normalize')!r}"))
    for key in ("floor", "batch_size", "num_gpus", "num_cpus", "timeout_s", "max_length", "seed"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append((key, f"must be a number, got {value!r}"))
    path = options.get("path", "tiny")
    if not isinstance(path, str):
        problems.append(("path", f"must be a string, got {path!r}"))
    elif path.startswith(("/", ".", "~")) and not Path(path).expanduser().is_dir():
        problems.append(("path", f"no reward-model checkpoint at {path}"))
    return problems


def _require_valid(options: dict[str, Any]) -> None:
    problems = check_options(options)
    if problems:
        key, msg = problems[0]
        raise ValueError(f"reward_model: options.{key}: {msg}")


def apply_gate(scores: list[float | None], passed: list[bool], floor: float, normalize: str | None) -> list[float]:
    """Final rewards: ``floor`` where the gate failed (or no score came back), else the (normalised) score."""
    out = []
    for score, ok in zip(scores, passed, strict=True):
        if not ok or score is None:
            out.append(float(floor))
        else:
            out.append(1.0 / (1.0 + math.exp(-score)) if normalize == "sigmoid" else float(score))
    return out


def score_passed(
    score: Callable[[list[tuple[Any, str]]], list[Any]], prompts: list[Any], texts: list[str], passed: list[bool]
) -> list[float | None]:
    """Reward-model scores of the completions that passed the gate, None for the rest (never scored)."""
    keep = [i for i, ok in enumerate(passed) if ok]
    scores: list[float | None] = [None] * len(texts)
    if keep:
        for i, s in zip(keep, score([(prompts[i], texts[i]) for i in keep])):
            scores[i] = s
    return scores


def resolve_path(path: str, seed: int = 0) -> str:
    """``tiny`` -> the cached (built on first use) tiny reward model; a local path must exist; hub ids pass."""
    if path.startswith(("/", ".", "~")):
        local = Path(path).expanduser()
        if not local.is_dir():
            raise ValueError(f"reward_model: no reward-model checkpoint at {path}")
        return str(local)
    if path != "tiny":
        return path
    from cascade.reward_model import build_tiny_reward_model

    return str(build_tiny_reward_model(seed=seed))


def eval_rm_scorer(options: dict[str, Any]) -> Callable[[list[Any], list[str], list[bool]], list[float]]:
    """The reward as training computes it, for an eval: ``(prompts, texts, verdicts correct) -> rewards``.

    Same gate (an eval already has the task verdicts, so they are the gate), floor and
    normalisation as ``RewardModelReward``; the model runs in this process, beside the policy
    being scored, which holds no Ray resources an actor could wait on.
    """
    _require_valid(options)
    from verifiers.reward_model import RewardModelScorer

    path = resolve_path(str(options.get("path", "tiny")), int(options.get("seed", 0)))
    scorer = RewardModelScorer(path, int(options.get("batch_size", 16)), max_length=options.get("max_length"))
    gated = options.get("gate") == "task"

    def score(prompts: list[Any], texts: list[str], correct: list[bool]) -> list[float]:
        passed = list(correct) if gated else [True] * len(texts)
        scores = score_passed(scorer.score, prompts, texts, passed)
        return apply_gate(scores, passed, float(options.get("floor", 0.0)), options.get("normalize"))

    return score


def shared_server_name(name: str) -> str | None:
    """The reward-model actor's name on a multi-worker stage, alike on every rank and unique to the
    stage job (its process group's rendezvous address), so the ranks share one model; None alone."""
    import os

    from cascade.distributed import world_size

    if world_size() == 1:
        return None
    return f"cascade-rm:{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}:{name}"


class RewardModelReward:
    """TRL reward function: gate, then reward-model score; runs the model in a Ray actor when Ray is up."""

    def __init__(
        self, pool: Any, group_size: int, stream: TaskStream | None = None, name: str = "reward_model", **options: Any
    ) -> None:
        _require_valid(options)
        self.__name__ = name
        self.seed = int(options.get("seed", 0))
        self.path = resolve_path(str(options.get("path", "tiny")), self.seed)  # build "tiny" now, not mid-step
        self.floor = float(options.get("floor", 0.0))
        self.normalize = options.get("normalize")
        self.timeout_s = float(options.get("timeout_s", 300.0))
        self.server_options = {
            "batch_size": int(options.get("batch_size", 16)),
            "num_gpus": float(options.get("num_gpus", 0)),
            "num_cpus": float(options.get("num_cpus", 0)),
            "max_length": options.get("max_length"),
        }
        self.gate = TaskReward(pool, group_size, stream, name=f"{name}/gate") if options.get("gate") == "task" else None
        self._server: Any = None
        self._has_scored = False
        self._local: Any = None

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], **kwargs: Any) -> list[float]:
        log_metric = kwargs.get("log_metric")
        if self.gate is not None:
            self.gate(prompts=prompts, completions=completions, task=task, log_metric=log_metric)
            passed = [v.correct for v in self.gate.last_verdicts]
        else:
            passed = [True] * len(completions)
        texts = [completion_text(c) for c in completions]
        scores = score_passed(lambda pairs: self._score(pairs, log_metric), prompts, texts, passed)
        rewards = apply_gate(scores, passed, self.floor, self.normalize)
        if log_metric is not None and completions:
            scored = [s for s in scores if s is not None]
            if scored:
                log_metric("rm/score_mean", sum(scored) / len(scored))
            log_metric("rm/gated_frac", 1.0 - sum(passed) / len(completions))
        return rewards

    def _score(self, pairs: list[tuple[Any, str]], log_metric: Any) -> list[float | None]:
        """Scores from the actor (or in-process without Ray); a failed call scores nothing, logged.

        Until the model has scored once, failures raise: a model that never loads is a config error.
        """
        try:
            scores = self._scorer_call(pairs)
            self._has_scored = True
            return scores
        except Exception as exc:  # noqa: BLE001 - a dead or hung reward model must not end training
            if not self._has_scored:
                self.close()
                raise
            log.warning("reward model call failed (%s: %s); this batch gets the floor", type(exc).__name__, exc)
            if log_metric is not None:
                log_metric("rm/failures", 1.0)
            self.close()
            return [None] * len(pairs)

    def _scorer_call(self, pairs: list[tuple[Any, str]]) -> list[float]:
        import ray

        if not ray.is_initialized():
            if self._local is None:
                from verifiers.reward_model import RewardModelScorer

                opts = self.server_options
                self._local = RewardModelScorer(self.path, opts["batch_size"], max_length=opts["max_length"])
            return self._local.score(pairs)
        if self._server is None:
            from verifiers.reward_model import start_reward_model_server

            self._server = start_reward_model_server(self.path, shared_name=shared_server_name(self.__name__), **self.server_options)
        return ray.get(self._server.score.remote(pairs), timeout=self.timeout_s)

    def close(self) -> None:
        """Stop the reward-model actor (the runner calls this when the stage ends)."""
        if self._server is not None:
            import ray

            ray.kill(self._server, no_restart=True)
            self._server = None
        self._local = None
