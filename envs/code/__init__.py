"""Code environments: solve a problem, plus the report's auxiliary code tasks.

Registered ids: ``code/problems`` (write a solution, verifier ``code``),
``code/predict_output`` (``code_output``), ``code/predict_input`` (``code_input``),
``code/spec_to_code`` (``code`` on held-out tests) and ``code/break_solution``
(``code_breaker``). Every environment takes the loader options of
``envs.code.problems.load_problems`` (path, dataset, name, split, columns, preset, limit).
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

from envs.base import Environment, register_env
from envs.code.problems import Problem, load_problems
from envs.task import Task

FORMAT_PROGRAM = ("Write a complete Python 3 program that reads standard input and writes standard output. "
                  "Give your final answer as one ```python code block.")
_LOADER_KEYS = ("path", "dataset", "name", "split", "columns", "preset", "limit")


@functools.lru_cache(maxsize=16)
def _cached(key: str) -> tuple[Problem, ...]:
    return tuple(load_problems(**json.loads(key)))


def _fence(text: str, tag: str) -> str:
    return f"```{tag}\n{text}{'' if text.endswith(chr(10)) else chr(10)}```"


def _format_call(fn_name: str) -> str:
    return (f"Implement `{fn_name}` as a method of `class Solution` (or as a top-level function); it must "
            "return JSON-like data (numbers, strings, lists, dicts, booleans). "
            "Give your final answer as one ```python code block.")


class _CodeEnv(Environment):
    """Shared loading and deterministic problem choice; subclasses build the Task."""

    source = "code"
    verifier = "code"
    description = ""
    options_from = staticmethod(load_problems)  # what ``**options`` accepts, checked at config load

    def __init__(self, max_tests: int | None = None, **options: Any) -> None:
        loader = {k: options[k] for k in _LOADER_KEYS if options.get(k) is not None}
        self.max_tests = max_tests
        self.problems = [p for p in _cached(json.dumps(loader, sort_keys=True)) if self.usable(p)]
        if not self.problems:
            raise ValueError(f"{type(self).__name__}: no usable problems in {loader or 'the shipped set'}")
        self.max_difficulty = max(p.difficulty for p in self.problems)
        self.min_difficulty = min(p.difficulty for p in self.problems)

    def usable(self, problem: Problem) -> bool:
        return True

    def pick(self, seed: int, difficulty: int) -> tuple[Problem, random.Random]:
        rng = random.Random(f"{self.env_id}|{seed}|{difficulty}")
        level = self.clamp(difficulty)
        pool = [p for p in self.problems if p.difficulty == level] or self.problems
        return pool[rng.randrange(len(pool))], rng

    def task(self, problem: Problem, prompt: str, payload: dict[str, Any], seed: int,
             difficulty: int, reference: str | None) -> Task:
        return Task(prompt=prompt, verifier=self.verifier, payload=payload, env_id=self.env_id,
                    difficulty=self.clamp(difficulty), seed=seed, reference=reference,
                    meta={"problem_id": problem.id})


@register_env("code/problems", source="code", description="competitive programming: pass every test")
class CodeProblems(_CodeEnv):
    def sample(self, seed: int, difficulty: int = 0) -> Task:
        p, _ = self.pick(seed, difficulty)
        idx = list(range(len(p.inputs)))[: self.max_tests] if self.max_tests else None
        prompt = p.question.strip()
        if p.starter_code.strip():
            prompt += "\n\nStarter code:\n" + _fence(p.starter_code, "python")
        prompt += "\n\n" + (_format_call(p.fn_name) if p.fn_name else FORMAT_PROGRAM)
        ref = _fence(p.solutions[0], "python") if p.solutions else None
        return self.task(p, prompt, p.payload(idx), seed, difficulty, ref)


@register_env("code/spec_to_code", source="code", description="code from a spec plus examples; held-out tests")
class SpecToCode(_CodeEnv):
    n_examples = 2

    def usable(self, problem: Problem) -> bool:
        return len(problem.inputs) > self.n_examples

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        p, rng = self.pick(seed, difficulty)
        order = list(range(len(p.inputs)))
        rng.shuffle(order)
        shown, held = order[: self.n_examples], order[self.n_examples :]
        lines = [p.question.strip(), "", "Examples:"]
        for i in shown:
            label = "Call arguments (JSON)" if p.fn_name else "Input"
            lines += [f"{label}:", _fence(p.inputs[i], "text"), "Expected:", _fence(p.outputs[i], "text")]
        lines += ["", (_format_call(p.fn_name) if p.fn_name else FORMAT_PROGRAM) + " Hidden tests are used to judge it."]
        ref = _fence(p.solutions[0], "python") if p.solutions else None
        return self.task(p, "\n".join(lines), p.payload(held[: self.max_tests] if self.max_tests else held),
                         seed, difficulty, ref)


class _StdinAux(_CodeEnv):
    """Auxiliary tasks need a stdin/stdout reference solution."""

    def usable(self, problem: Problem) -> bool:
        return bool(problem.solutions) and not problem.fn_name


@register_env("code/predict_output", source="code", description="predict a program's output on an input")
class PredictOutput(_StdinAux):
    verifier = "code_output"

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        p, rng = self.pick(seed, difficulty)
        i = rng.randrange(len(p.inputs))
        prompt = (f"Here is a Python program:\n{_fence(p.solutions[0], 'python')}\n\nIt is run with this standard "
                  f"input:\n{_fence(p.inputs[i], 'input')}\n\nWhat exactly does it print? Reason if you like, then "
                  "give the complete output as the last block, fenced as ```output.")
        return self.task(p, prompt, {"expected_output": p.outputs[i]}, seed, difficulty, _fence(p.outputs[i], "output"))


@register_env("code/predict_input", source="code", description="propose an input that yields a given output")
class PredictInput(_StdinAux):
    verifier = "code_input"

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        p, rng = self.pick(seed, difficulty)
        i = rng.randrange(len(p.inputs))
        prompt = (f"Problem:\n{p.question.strip()}\n\nA correct solution:\n{_fence(p.solutions[0], 'python')}\n\n"
                  f"Find a valid standard input for which it prints exactly:\n{_fence(p.outputs[i], 'output')}\n\n"
                  "Give the complete input as the last block, fenced as ```input.")
        payload = {"reference": p.solutions[0], "target_output": p.outputs[i], **p.limits()}
        return self.task(p, prompt, payload, seed, difficulty, _fence(p.inputs[i], "input"))


@register_env("code/break_solution", source="code", description="find an input that breaks a wrong solution")
class BreakSolution(_CodeEnv):
    verifier = "code_breaker"

    def usable(self, problem: Problem) -> bool:
        return bool(problem.solutions) and bool(problem.wrong_solutions) and not problem.fn_name

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        p, rng = self.pick(seed, difficulty)
        wrong = p.wrong_solutions[rng.randrange(len(p.wrong_solutions))]
        prompt = (f"Problem:\n{p.question.strip()}\n\nThis solution is wrong:\n{_fence(wrong, 'python')}\n\n"
                  "Find a valid standard input (respecting the problem's constraints) on which it fails: wrong "
                  "output, crash or timeout. Give the complete input as the last block, fenced as ```input.")
        payload = {"reference": p.solutions[0], "wrong": wrong, **p.limits()}
        ref = _fence(p.breaking_inputs[0], "input") if p.breaking_inputs and wrong == p.wrong_solutions[0] else None
        return self.task(p, prompt, payload, seed, difficulty, ref)
