"""Held-out evaluation: pass@1 and pass@k per environment, optionally with Markovian RSA.

Suites (configs/inference/eval_suites.yaml) name environments at fixed difficulties; tasks come from
a fixed seed range so two checkpoints are compared on the same tasks. pass@k uses the
unbiased estimator of Chen et al. (2021) from n >= k samples per task. Generation is
injected (``generate_fn``) so the metrics are testable with a fake policy.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from math import comb
from pathlib import Path
from typing import Any

import yaml

from cascade.rsa import GenerateFn, RSAConfig, TailFn, run_rsa_many
from envs import Task, get_env
from envs.shipped import config_file

SUITES_PATH = config_file("inference/eval_suites.yaml")
_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
DRAWS_PER_TASK = 10
RMFn = Callable[[list[Any], list[str], list[bool]], list[float]]  # (prompts, completions, correct) -> rewards


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    return 1.0 if n - c < k else 1.0 - comb(n - c, k) / comb(n, k)


@dataclass
class EvalEnv:
    id: str
    options: dict[str, Any] = field(default_factory=dict)
    difficulty: int = 0

    @property
    def label(self) -> str:
        return f"{self.id}@{self.difficulty}"


@dataclass
class Suite:
    name: str
    envs: list[EvalEnv]
    n_tasks: int = 8
    n_samples: int = 4
    max_new_tokens: int = 1024
    seed_start: int = 1_000_000
    rsa: RSAConfig = field(default_factory=RSAConfig)
    description: str = ""


def _heldout(source: str | None, difficulties: list[int]) -> list[EvalEnv] | None:
    """The env list a module publishes (e.g. RLVE's held-out ids), if it exists yet."""
    if not source:
        return None
    module, attr = source.rsplit(".", 1)
    try:
        ids = list(getattr(importlib.import_module(module), attr))
    except (ImportError, AttributeError):
        return None
    return [EvalEnv(i, {}, d) for i in ids for d in difficulties or [0]]


def load_suite(name: str, path: str | Path | None = None) -> Suite:
    """Suite ``name`` from the suites YAML, with the file's defaults filled in."""
    path = Path(path or SUITES_PATH)
    data = yaml.safe_load(path.read_text()) or {}
    suites = data.get("suites") or {}
    if name not in suites:
        raise KeyError(f"unknown suite {name!r} (known: {', '.join(sorted(suites))})")
    spec = {**(data.get("defaults") or {}), **suites[name]}
    envs = _heldout(spec.pop("heldout_source", None), spec.pop("difficulties", [0]))
    envs = envs or [EvalEnv(e["id"], _relative_to(path.parent, e.get("options") or {}), int(e.get("difficulty", 0)))
                    for e in spec.pop("envs", [])]
    spec.pop("envs", None)
    if not envs:
        raise ValueError(f"suite {name!r} lists no environments")
    rsa = RSAConfig(**(spec.pop("rsa", None) or {}))
    return Suite(name=name, envs=envs, rsa=rsa, **spec)


def _relative_to(base: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Relative ``*path`` options of a suites file are relative to that file, as in cascade configs."""
    return {k: str((base / v).resolve()) if k.endswith("path") and isinstance(v, str) and not Path(v).is_absolute()
            else v for k, v in options.items()}


def suite_names(path: str | Path | None = None) -> list[str]:
    return sorted((yaml.safe_load(Path(path or SUITES_PATH).read_text()) or {}).get("suites") or {})


def load_tasks(source: str, limit: int, options: dict[str, Any] | None = None, seed_start: int = 0,
               difficulty: int = 0) -> list[Task]:
    """Up to ``limit`` distinct tasks of an env id, or of a problem/answer data file (judged as math).

    Seeds run from ``seed_start``; a task whose prompt was already drawn (small files, envs
    that pick rows at random) is skipped, for at most ``DRAWS_PER_TASK * limit`` draws.
    """
    if source.endswith(_DATA_SUFFIXES) or Path(source).is_file():
        env = get_env("data/math", path=source, **(options or {}))
    else:
        env = get_env(source, **(options or {}))
    tasks: dict[str, Task] = {}
    for seed in range(seed_start, seed_start + DRAWS_PER_TASK * limit):
        if len(tasks) == limit:
            break
        task = env.sample(seed=seed, difficulty=difficulty)
        tasks.setdefault(json.dumps(task.prompt, sort_keys=True), task)
    return list(tasks.values())


def evaluate_tasks(tasks: list[Task], generate_fn: GenerateFn, pool: Any, n: int, k: int, max_new_tokens: int,
                   rsa: RSAConfig | None = None, tail_fn: TailFn | None = None,
                   rm: RMFn | None = None) -> dict[str, Any]:
    """pass@1 / pass@k over ``tasks`` (n samples each); with ``rsa``, RSA's accuracy too; with ``rm``
    (``cascade.rm_reward.eval_rm_scorer``), ``rm_score``: the mean reward-model reward of the samples."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got n={n}")
    prompts = [t.prompt for t in tasks for _ in range(n)]
    completions = generate_fn(prompts, max_new_tokens)
    items = [(t.verifier, c, t.payload) for i, t in enumerate(tasks) for c in completions[i * n : (i + 1) * n]]
    verdicts = pool.verify(items)
    correct = [sum(v.correct for v in verdicts[i * n : (i + 1) * n]) for i in range(len(tasks))]
    out: dict[str, Any] = {
        "tasks": len(tasks), "n": n, "k": k, "correct": correct,
        "pass@1": _mean([pass_at_k(n, c, 1) for c in correct]),
        f"pass@{k}": _mean([pass_at_k(n, c, k) for c in correct]),
    }
    if rm is not None:
        out["rm_score"] = _mean(rm(prompts, completions, [v.correct for v in verdicts]))
    if rsa is not None:
        results = run_rsa_many(None, None, [t.prompt for t in tasks], rsa, generate_fn, tail_fn=tail_fn)
        rsa_verdicts = pool.verify([(t.verifier, r.completion, t.payload) for t, r in zip(tasks, results)])
        out["rsa"] = _mean([float(v.correct) for v in rsa_verdicts])
        out["rsa_answers"] = [r.answer for r in results]
    return out


def evaluate_suite(suite: Suite, generate_fn: GenerateFn, pool: Any, k: int = 4, n_tasks: int | None = None,
                   n_samples: int | None = None, use_rsa: bool = False, tail_fn: TailFn | None = None,
                   max_new_tokens: int | None = None) -> dict[str, Any]:
    """Every env of ``suite``; the summary is the unweighted mean over envs."""
    n = max(n_samples or suite.n_samples, k)
    budget = max_new_tokens or suite.max_new_tokens
    rsa = replace(suite.rsa, budget=max_new_tokens) if max_new_tokens else suite.rsa
    rows: dict[str, Any] = {}
    for env in suite.envs:
        tasks = load_tasks(env.id, n_tasks or suite.n_tasks, env.options, suite.seed_start, env.difficulty)
        rows[env.label] = evaluate_tasks(tasks, generate_fn, pool, n, k, budget, rsa if use_rsa else None, tail_fn)
    metrics = ["pass@1", f"pass@{k}"] + (["rsa"] if use_rsa else [])
    summary = {m: _mean([r[m] for r in rows.values()]) for m in metrics}
    return {"suite": suite.name, "k": k, "n": n, "max_new_tokens": budget, "seed_start": suite.seed_start,
            "rsa_config": asdict(rsa) if use_rsa else None, "envs": rows, "summary": summary}


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0
