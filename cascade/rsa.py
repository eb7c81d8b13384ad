"""Markovian recursive self-aggregation (RSA), the report's test-time compute (§VI-B).

Round 0 samples N rollouts with thinking budget B and keeps each one's last tau tokens.
Every later round (T rounds in all) builds N aggregation prompts, each the problem plus
C tails drawn (seeded) from the previous population, and samples one rollout per prompt.
Only tails cross rounds, so context stays bounded however many rounds run ("Markovian").
The answer is a majority vote over the last population (optionally one more aggregation).

Generation is injected (``generate_fn``) so the round structure is testable without a model; the
real one samples through a rollout engine (``engine_generate_fn``), the project's one generation path.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envs.rsa import AggregationTemplate, build_aggregation_prompt, load_template, user_text, with_user_text

__all__ = [
    "RSAConfig", "RSAResult", "build_aggregation_prompt", "extract_answer_key", "majority_vote",
    "engine_generate_fn", "make_rollout_file", "policy_engine", "make_tail_fn", "run_rsa", "run_rsa_many", "select_tails", "write_rollouts",
]

Prompt = str | list[dict[str, str]]  # text, or chat messages (system messages are kept)
GenerateFn = Callable[[list[Prompt], int], list[str]]  # (prompts, max_new_tokens) -> one completion each
TailFn = Callable[[str, int], str]  # (completion, tau) -> its last tau tokens as text
_FENCE_RE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class RSAConfig:
    """N population size, C candidates per aggregation prompt, T rounds, B budget, tau tail tokens."""

    n: int = 16
    c: int = 4
    t: int = 2
    budget: int = 1024
    tail: int = 256
    seed: int = 0
    final_aggregate: bool = False

    def __post_init__(self) -> None:
        for name in ("n", "c", "t", "budget", "tail"):
            if getattr(self, name) < 1:
                raise ValueError(f"RSA {name} must be >= 1, got {getattr(self, name)}")


@dataclass
class RSARound:
    index: int
    prompts: list[Prompt]
    completions: list[str]
    tails: list[str]
    answers: list[str | None]
    votes: dict[str, int]
    parents: list[list[int]] = field(default_factory=list)  # which tails each prompt used (rounds >= 1)


@dataclass
class RSAResult:
    problem: str
    rounds: list[RSARound]
    answer: str | None
    votes: dict[str, int]
    completion: str  # the completion that stands for the answer (verify this one)
    aggregate: dict[str, Any] | None = None

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        """JSON summary; ``with_text`` adds prompts, completions and tails of every round."""
        keep = None if with_text else {"index", "answers", "votes", "parents"}
        rounds = [{k: v for k, v in asdict(r).items() if keep is None or k in keep} for r in self.rounds]
        return {"problem": self.problem, "rounds": rounds, "answer": self.answer, "votes": self.votes,
                "completion": self.completion, "aggregate": self.aggregate}


def extract_answer_key(completion: str) -> str | None:
    """The answer to vote on: last ``\\boxed{}``, else last ``<answer>``, else last fenced block."""
    from verifiers.math.extract import extract_answer

    ext = extract_answer(completion, fallbacks=("answer_tag",))
    answer = ext.answer
    if answer is None:
        blocks = _FENCE_RE.findall(completion[-20_000:])
        answer = blocks[-1] if blocks else None
    answer = " ".join(answer.split()) if answer else None
    return answer or None


def majority_vote(answers: list[str | None]) -> tuple[str | None, dict[str, int]]:
    """Most frequent non-empty answer; ties go to the answer seen first (population order)."""
    counts = Counter(a for a in answers if a)
    if not counts:
        return None, {}
    top = max(counts.values())
    winner = next(a for a in answers if a and counts[a] == top)
    return winner, dict(counts.most_common())


def select_tails(population: int, c: int, rng: random.Random) -> list[int]:
    """C distinct indices into the previous population (with replacement only if C > N)."""
    if c <= population:
        return rng.sample(range(population), c)
    return rng.choices(range(population), k=c)


def make_tail_fn(tokenizer: Any) -> TailFn:
    """Tails in tokens of the policy tokenizer, as the report defines tau."""

    def tail(text: str, tau: int) -> str:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) <= tau:
            return text
        # A cut inside a multi-byte character decodes to U+FFFD, which re-encodes longer: shrink until it fits.
        for k in range(tau, 0, -1):
            out = tokenizer.decode(ids[-k:], skip_special_tokens=True).lstrip("\ufffd")
            if len(tokenizer.encode(out, add_special_tokens=False)) <= tau:
                return out
        return ""

    return tail


def engine_generate_fn(engine: Any, tokenizer: Any, seed: int = 0, temperature: float = 1.0) -> GenerateFn:
    """RSA's ``generate_fn`` over a rollout engine: one completion per prompt (seeded once; temperature 0 is greedy)."""
    import torch

    from cascade.generation.engine import SamplingParams, generate_texts

    torch.manual_seed(seed)

    def generate(prompts: list[Prompt], max_new_tokens: int) -> list[str]:
        sampling = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature)
        return [group[0] for group in generate_texts(engine, tokenizer, prompts, 1, sampling)]

    return generate


def policy_engine(model: Any, tokenizer: Any, backend: str = "hf") -> Any:
    """The engine eval and RSA sample ``model`` with: ``hf`` in this process (CPU or GPU), or ``vllm``
    (GPU, the vllm extra), the backend a GPU config's stages train with."""
    from cascade.config import GenerationSettings
    from cascade.generation.setup import in_process_engine

    return in_process_engine(GenerationSettings(backend=backend), model, tokenizer)


def _round(index: int, prompts: list[Prompt], completions: list[str], tail_fn: TailFn, tau: int,
           parents: list[list[int]]) -> RSARound:
    answers = [extract_answer_key(c) for c in completions]
    return RSARound(index, prompts, completions, [tail_fn(c, tau) for c in completions], answers,
                    majority_vote(answers)[1], parents)


def run_rsa(model: Any, tokenizer: Any, problem: Prompt, cfg: RSAConfig, generate_fn: GenerateFn | None = None,
            template: AggregationTemplate | None = None, tail_fn: TailFn | None = None) -> RSAResult:
    """Markovian RSA on one problem; ``model`` is only used when no ``generate_fn`` is given."""
    return run_rsa_many(model, tokenizer, [problem], cfg, generate_fn, template, tail_fn)[0]


def run_rsa_many(model: Any, tokenizer: Any, problems: list[Prompt], cfg: RSAConfig, generate_fn: GenerateFn | None = None,
                 template: AggregationTemplate | None = None, tail_fn: TailFn | None = None) -> list[RSAResult]:
    """RSA on several problems at once: one generate call per round for all of them (batching).

    A chat problem keeps its system messages; aggregation rewrites only its last user message.
    """
    generate = generate_fn or engine_generate_fn(policy_engine(model, tokenizer), tokenizer, cfg.seed)
    if tail_fn is None and tokenizer is None:
        raise ValueError("run_rsa needs a tokenizer or a tail_fn (tails are counted in tokens)")
    tail_fn = tail_fn or make_tail_fn(tokenizer)
    template = template or load_template()
    rounds: list[list[RSARound]] = [[] for _ in problems]
    parents: list[list[list[int]]] = [[] for _ in problems]
    for r in range(cfg.t):
        if r == 0:
            prompts = [[p] * cfg.n for p in problems]
        else:
            prompts = []
            for i, problem in enumerate(problems):
                rng, prev = random.Random(f"rsa:{cfg.seed}:{i}:{r}"), rounds[i][-1].tails
                parents[i] = [select_tails(len(prev), cfg.c, rng) for _ in range(cfg.n)]
                text = user_text(problem)
                prompts.append([with_user_text(problem, build_aggregation_prompt(text, [prev[j] for j in ps], template))
                                for ps in parents[i]])
        flat = generate([p for ps in prompts for p in ps], cfg.budget)
        if len(flat) != cfg.n * len(problems):
            raise RuntimeError(f"generate returned {len(flat)} completions for {cfg.n * len(problems)} prompts")
        for i in range(len(problems)):
            rounds[i].append(_round(r, prompts[i], flat[i * cfg.n : (i + 1) * cfg.n], tail_fn, cfg.tail, parents[i]))
    results = []
    for i, problem in enumerate(problems):
        last = rounds[i][-1]
        answer, votes = majority_vote(last.answers)
        completion = next((c for c, a in zip(last.completions, last.answers) if a == answer), last.completions[0])
        results.append(RSAResult(user_text(problem), rounds[i], answer, votes, completion))
    if cfg.final_aggregate:
        _final_aggregate(problems, results, cfg, generate, template)
    return results


def _final_aggregate(problems: list[Prompt], results: list[RSAResult], cfg: RSAConfig, generate: GenerateFn, template: AggregationTemplate) -> None:
    """One more aggregation per problem over C tails of its last population; its answer replaces the vote."""
    picks = [select_tails(len(r.rounds[-1].tails), cfg.c, random.Random(f"rsa:{cfg.seed}:{i}:final")) for i, r in enumerate(results)]
    prompts = [with_user_text(p, build_aggregation_prompt(r.problem, [r.rounds[-1].tails[j] for j in ps], template))
               for p, r, ps in zip(problems, results, picks)]
    for r, ps, completion in zip(results, picks, generate(prompts, cfg.budget)):
        r.aggregate = {"parents": ps, "answer": extract_answer_key(completion), "vote_answer": r.answer}
        r.answer, r.completion = r.aggregate["answer"], completion


def rollout_rows(tasks: list[Any], groups: list[list[str]], tail_fn: TailFn, tau: int, pool: Any | None = None) -> list[dict[str, Any]]:
    """One ``rsa/aggregate`` row per task: the task, its rollouts' tails and (with a pool) their correctness."""
    correct: list[list[Any]] = [[None] * len(g) for g in groups]
    if pool is not None:
        items = [(t.verifier, c, t.payload) for t, g in zip(tasks, groups) for c in g]
        labels = iter([v.correct for v in pool.verify(items)] if items else [])
        correct = [[next(labels) for _ in g] for g in groups]
    return [{"task": t.to_dict(), "rollouts": [tail_fn(c, tau) for c in g], "correct": k}
            for t, g, k in zip(tasks, groups, correct)]


def write_rows(out: str | Path, rows: list[dict[str, Any]]) -> Path:
    """The rows as JSONL, replacing ``out`` atomically (readers reload it on change, never see half)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    tmp.replace(out)
    return out


def write_rollouts(tasks: list[Any], generate_fn: GenerateFn, tail_fn: TailFn, n: int, budget: int, tau: int,
                   out: str | Path, pool: Any | None = None) -> Path:
    """One JSONL row per task: the task, ``n`` rollout tails and (with a pool) their correctness."""
    prompts = [t.prompt for t in tasks for _ in range(n)]
    completions = generate_fn(prompts, budget) if prompts else []
    groups = [completions[i * n : (i + 1) * n] for i in range(len(tasks))]
    return write_rows(out, rollout_rows(tasks, groups, tail_fn, tau, pool))


def make_rollout_file(checkpoint: str | Path, env_ids: list[str], n: int, out: str | Path, num_tasks: int = 8,
                      budget: int = 256, tail: int = 256, seed: int = 0,
                      env_options: dict[str, dict[str, Any]] | None = None, difficulty: int = 0, backend: str = "hf") -> Path:
    """Candidates from a checkpoint's own rollouts, for ``rsa/aggregate`` (``rollouts_path``).

    A stage that wants on-policy candidates writes this from its starting checkpoint before
    it trains, then lists ``{id: rsa/aggregate, options: {rollouts_path: <out>}}`` in its envs.
    """
    from cascade.config import PolicyConfig
    from cascade.policy import load_policy
    from envs import get_env
    from verifiers.pool import LocalVerifierPool

    model, tokenizer = load_policy(PolicyConfig(), checkpoint)
    tasks = []
    for env_id in env_ids:
        env = get_env(env_id, **(env_options or {}).get(env_id, {}))
        tasks += [env.sample(seed=seed * 100_003 + k, difficulty=difficulty) for k in range(num_tasks)]
    generate = engine_generate_fn(policy_engine(model, tokenizer, backend), tokenizer, seed)
    return write_rollouts(tasks, generate, make_tail_fn(tokenizer), n, budget, tail, out, LocalVerifierPool())
