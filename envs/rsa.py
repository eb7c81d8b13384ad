"""``rsa/aggregate``: Markovian-RSA round-1 aggregation prompts as training tasks (report §VI-B).

Stage 3 of the report mixes RSA aggregation prompts into math + code RL so the policy
learns to aggregate its own candidates, with the ordinary verifiable reward: each task
here is a base task's problem plus C candidate tails, and keeps the base task's verifier
and payload, so the normal verifier judges the aggregated answer.

Candidates come from a rollouts JSONL, one row per problem::

    {"task": {...Task dict...}, "rollouts": ["...tail...", ...], "correct": [true, false, ...]}
    {"env_id": "arith/add", "seed": 3, "difficulty": 0, "options": {}, "rollouts": [...]}
    {"problem": "What is 2+3?", "answer": "5", "verifier": "math", "rollouts": [...]}

``correct`` is optional (kept in task meta for analysis). The file is reloaded whenever it
changes on disk. Without options the env reads the shipped sample (the offline default). To train
on the *current policy's* rollouts, refreshed as it learns, give the stage an ``rsa:`` block
(``cascade/rsa_refresh.py``), which points this env at ``<stage>/rsa_rollouts.jsonl``::

    rsa: {refresh_every: 8, n: 16, c: 4, tau: 256, num_problems: 8}

A fixed file from one checkpoint also works (``cascade rsa-rollouts``, then
``options: {rollouts_path: runs/x/rsa_rollouts.jsonl, c: 4}``).

The aggregation template is shared with ``cascade rsa`` (configs/inference/rsa_prompt.yaml).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from envs.heldout import heldout_key
from envs.shipped import config_file, data_file
from envs.base import Environment, get_env, register_env
from envs.task import Task

TEMPLATE_PATH = config_file("inference/rsa_prompt.yaml")
DEFAULT_ROLLOUTS = data_file("rsa", "rollouts_sample.jsonl")
_PLACEHOLDER = re.compile(r"\{(problem|candidates)\}")


@dataclass(frozen=True)
class AggregationTemplate:
    """The aggregation prompt: ``template`` with {problem}/{candidates}; ``candidate`` per tail."""

    template: str
    candidate: str = "Candidate {index}:\n...{tail}"
    separator: str = "\n\n"


def load_template(path: str | Path | None = None) -> AggregationTemplate:
    """Read the aggregation template YAML (default: configs/inference/rsa_prompt.yaml)."""
    data = yaml.safe_load(Path(path or TEMPLATE_PATH).read_text())
    if not isinstance(data, dict) or "template" not in data:
        raise ValueError(f"{path or TEMPLATE_PATH}: expected a mapping with a 'template' key")
    tpl = AggregationTemplate(**{k: str(v) for k, v in data.items() if k in ("template", "candidate", "separator")})
    for key in ("{problem}", "{candidates}"):
        if key not in tpl.template:
            raise ValueError(f"{path or TEMPLATE_PATH}: template must contain {key}")
    return tpl


def build_aggregation_prompt(problem: str, tails: list[str], template: AggregationTemplate | None = None) -> str:
    """The problem plus the candidate tails; only the named placeholders are substituted (braces in math survive)."""
    tpl = template or load_template()
    cands = tpl.separator.join(
        tpl.candidate.replace("{index}", str(i + 1)).replace("{tail}", tail.strip()) for i, tail in enumerate(tails)
    )
    values = {"problem": problem.strip(), "candidates": cands}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], tpl.template).strip()


def with_user_text(prompt: str | list[dict[str, str]], text: str) -> str | list[dict[str, str]]:
    """``prompt`` with its (last) user message replaced by ``text``; system messages are kept."""
    if isinstance(prompt, str):
        return text
    out = [dict(m) for m in prompt]
    users = [i for i, m in enumerate(out) if m.get("role") == "user"]
    if users:
        out[users[-1]]["content"] = text
    else:
        out.append({"role": "user", "content": text})
    return out


def user_text(prompt: str | list[dict[str, str]]) -> str:
    """The text a prompt asks (its last user message for chat prompts)."""
    if isinstance(prompt, str):
        return prompt
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    return users[-1] if users else ""


def row_task(row: dict[str, Any], base_dir: Path = Path(".")) -> Task:
    """The base task of a rollouts row (a stored Task, an env reference, or problem + answer).

    A relative dataset ``path`` in an env reference is relative to the rollouts file's folder,
    as config paths are to their config file, so a shipped or copied file works from any cwd.
    """
    if "task" in row:
        return Task.from_dict(row["task"])
    if "env_id" in row:
        options = dict(row.get("options", {}))
        if isinstance(options.get("path"), str):
            options["path"] = str(base_dir / options["path"])  # an absolute path stays as it is
        env = get_env(row["env_id"], **options)
        return env.sample(seed=int(row.get("seed", 0)), difficulty=int(row.get("difficulty", 0)))
    if "problem" in row and "answer" in row:
        return Task(prompt=[{"role": "user", "content": str(row["problem"])}], verifier=row.get("verifier", "math"),
                    payload={"answer": str(row["answer"])}, env_id=row.get("source", "rsa/problem"))
    raise ValueError("a rollouts row needs 'task', 'env_id' or 'problem' + 'answer'")


def load_rollout_rows(path: str | Path) -> list[tuple[Task, list[str], list[Any]]]:
    """(base task, candidate tails, per-candidate correctness or None) for each usable row."""
    out = []
    path = Path(path)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        rollouts = [str(r) for r in row.get("rollouts", [])]
        if not rollouts:
            continue
        try:
            task = row_task(row, path.parent)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
        correct = list(row.get("correct") or [None] * len(rollouts))
        out.append((task, rollouts, correct))
    if not out:
        raise ValueError(f"{path}: no rows with rollouts")
    return out


class RSAAggregateEnv(Environment):
    """Round-1 aggregation prompts over a rollouts file; the base task's verifier judges them."""

    source = "rsa"
    env_id = "rsa/aggregate"

    def __init__(self, rollouts_path: str | Path | None = None, c: int = 4, tail_chars: int | None = None,
                 template_path: str | Path | None = None, seed: int = 0) -> None:
        if c < 1:
            raise ValueError("c (candidates per prompt) must be >= 1")
        self.path, self.c, self.tail_chars, self.seed = Path(rollouts_path or DEFAULT_ROLLOUTS), c, tail_chars, seed
        self.template = load_template(template_path)
        self._rows: list[tuple[Task, list[str], list[Any]]] | None = None
        self._loaded_key: tuple[int, int, int] | None = None

    @property
    def rows(self) -> list[tuple[Task, list[str], list[Any]]]:
        """The file's rows, reloaded whenever it is replaced (an on-policy refresh rewrites it with os.replace)."""
        stat = self.path.stat()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._rows is None or key != self._loaded_key:
            rows = load_rollout_rows(self.path)
            random.Random(self.seed).shuffle(rows)
            self._rows, self._loaded_key = rows, key
        return self._rows

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        base, rollouts, correct = self.rows[seed % len(self.rows)]
        rng = random.Random(f"rsa/aggregate:{self.seed}:{seed}")
        picks = rng.sample(range(len(rollouts)), self.c) if len(rollouts) >= self.c else rng.choices(range(len(rollouts)), k=self.c)
        tails = [rollouts[i][-self.tail_chars:] if self.tail_chars else rollouts[i] for i in picks]
        text = build_aggregation_prompt(base.prompt_text(), tails, self.template)
        meta = {"base_env": base.env_id, "base_seed": base.seed, "base_difficulty": base.difficulty, "candidates": picks,
                "candidates_correct": [correct[i] for i in picks], "heldout_key": heldout_key(base)}
        return Task(prompt=with_user_text(base.prompt, text), verifier=base.verifier, payload=base.payload,
                    env_id=self.env_id, difficulty=0, seed=seed, reference=base.reference, meta=meta)


@register_env("rsa/aggregate", source="rsa", max_difficulty=0, description="RSA round-1 aggregation prompts over stored rollouts",
              options_from=RSAAggregateEnv)
def make_rsa_env(**options: Any) -> RSAAggregateEnv:
    """Options: rollouts_path, c, tail_chars, template_path, seed."""
    return RSAAggregateEnv(**options)
