"""Competitive-programming problems from JSONL, parquet or HF datasets, normalised.

Sources differ (APPS/TACO ``input_output`` JSON, CodeContests ``public_tests``,
LiveCodeBench ``public_test_cases``); a column mapping (or a named preset) maps them
onto one ``Problem`` whose tests use the APPS/TACO payload convention of the ``code``
verifier: stdin strings, or JSON arrays of positional args when ``fn_name`` is set.

APPS and TACO store each call-based expected value wrapped in a one-element list
(``"outputs": [[0], [4]]``; their ``testing_util`` accepts ``result == expected`` or
``result == expected[0]``). Their presets set ``call_outputs: wrapped`` and the loader
unwraps every one-element list, so the verifier compares against the true value and
stays strict: a problem whose answer is the list ``[0]`` (stored ``[[0]]``) still
rejects ``0``. Unlike upstream, returning ``[x]`` for an answer ``x`` is not accepted.
LiveCodeBench's ``private_test_cases`` are compressed (see ``compressed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.code.compressed import decode_compressed

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "code" / "problems.jsonl"

PRESETS: dict[str, dict[str, Any]] = {
    "apps": {"call_outputs": "wrapped"},  # otherwise our canonical names are APPS/TACO's
    "taco": {"call_outputs": "wrapped"},
    "codecontests": {"question": "description", "wrong_solutions": "incorrect_solutions",
                     "tests": ["public_tests", "private_tests", "generated_tests"],
                     "time_limit": "time_limit", "memory_limit": "memory_limit_bytes", "id": "name"},
    "livecodebench": {"question": "question_content", "tests": ["public_test_cases", "private_test_cases"],
                      "id": "question_id", "fn_name": "metadata.func_name"},
}
_DIFFICULTY_WORDS = {"introductory": 0, "easy": 0, "interview": 1, "medium": 1,
                     "competition": 2, "hard": 2, "medium_hard": 2, "very_hard": 3}


@dataclass(frozen=True)
class Problem:
    """One problem; ``solutions``/``wrong_solutions`` are Python source strings."""

    id: str
    question: str
    inputs: list[str]
    outputs: list[str]
    fn_name: str | None = None
    solutions: list[str] = field(default_factory=list)
    wrong_solutions: list[str] = field(default_factory=list)
    breaking_inputs: list[str] = field(default_factory=list)
    starter_code: str = ""
    difficulty: int = 0
    time_limit_s: float | None = None
    memory_limit_mb: int | None = None

    def payload(self, indices: list[int] | None = None) -> dict[str, Any]:
        """The ``code`` verifier payload for all tests, or only those at ``indices``."""
        idx = range(len(self.inputs)) if indices is None else indices
        out: dict[str, Any] = {"inputs": [self.inputs[i] for i in idx], "outputs": [self.outputs[i] for i in idx]}
        if self.fn_name:
            out["fn_name"] = self.fn_name
        return {**out, **self.limits()}

    def limits(self) -> dict[str, Any]:
        lim: dict[str, Any] = {}
        if self.time_limit_s:
            lim["time_limit_s"] = self.time_limit_s
        if self.memory_limit_mb:
            lim["memory_limit_mb"] = self.memory_limit_mb
        return lim


def load_problems(path: str | None = None, dataset: str | None = None, name: str | None = None,
                  split: str = "train", columns: dict[str, Any] | None = None, preset: str | None = None,
                  limit: int | None = None) -> list[Problem]:
    """Load and normalise problems; rows without usable tests are skipped."""
    mapping = {**PRESETS.get((preset or "").lower(), {}), **(columns or {})}
    rows = _rows(path, dataset, name, split)
    problems = []
    for i, row in enumerate(rows):
        problem = normalise(row, mapping, default_id=f"p{i}")
        if problem is not None:
            problems.append(problem)
        if limit is not None and len(problems) >= limit:
            break
    return problems


def _rows(path: str | None, dataset: str | None, name: str | None, split: str) -> list[dict[str, Any]]:
    if dataset:
        import datasets  # optional heavy import: only for HF datasets (local cache or hub)

        return list(datasets.load_dataset(dataset, name, split=split))
    file = Path(path) if path else SHIPPED
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(file).to_pylist()
    if file.suffix == ".json":
        data = json.loads(file.read_text())
        return data if isinstance(data, list) else data[split]
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def _get(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = _maybe_json(value)
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def normalise(row: dict[str, Any], mapping: dict[str, Any], default_id: str = "") -> Problem | None:
    """One source row -> Problem (None when it has no tests)."""
    col = lambda key: _get(row, mapping.get(key, key))  # noqa: E731
    fn_name = col("fn_name") or None
    inputs, outputs = [], []
    io = _maybe_json(col("input_output"))
    if isinstance(io, dict):
        inputs, outputs = list(io.get("inputs") or []), list(io.get("outputs") or [])
        fn_name = fn_name or io.get("fn_name")
    elif col("inputs") is not None:
        inputs, outputs = list(_maybe_json(col("inputs")) or []), list(_maybe_json(col("outputs")) or [])
    tests_cols = mapping.get("tests", [])
    for key in [tests_cols] if isinstance(tests_cols, str) else tests_cols:
        ins, outs, functional = _tests(_get(row, key))
        inputs, outputs = inputs + ins, outputs + outs
        if functional and not fn_name:
            fn_name = col("fn_name") or None
    if not inputs or len(inputs) != len(outputs):
        return None
    if fn_name and mapping.get("call_outputs") == "wrapped":
        # decoded values, not JSON text: dump each so a string answer stays a string
        outputs = [json.dumps(o[0] if isinstance(o, list) and len(o) == 1 else o) for o in outputs]
    if fn_name:
        inputs = [i if isinstance(i, str) else json.dumps(i) for i in inputs]
        outputs = [o if isinstance(o, str) else json.dumps(o) for o in outputs]
    else:
        inputs = [i if isinstance(i, str) else "\n".join(map(str, i)) for i in inputs]
        outputs = [o if isinstance(o, str) else "\n".join(map(str, o)) for o in outputs]
    return Problem(
        id=str(col("id") or col("problem_id") or default_id), question=str(col("question") or ""),
        inputs=inputs, outputs=outputs, fn_name=fn_name, solutions=_sources(col("solutions")),
        wrong_solutions=_sources(col("wrong_solutions")), breaking_inputs=list(col("breaking_inputs") or []),
        starter_code=str(col("starter_code") or ""), difficulty=_difficulty(col("difficulty")),
        time_limit_s=_seconds(col("time_limit")), memory_limit_mb=_megabytes(col("memory_limit")),
    )


def _tests(value: Any) -> tuple[list[str], list[str], bool]:
    """A tests column -> (inputs, outputs, functional); malformed entries are dropped."""
    value = decode_compressed(value) if isinstance(value, str) else value
    if isinstance(value, dict):  # CodeContests: {"input": [...], "output": [...]}
        ins, outs = value.get("input"), value.get("output")
        if not (isinstance(ins, list) and isinstance(outs, list) and len(ins) == len(outs)):
            return [], [], False
        pairs = [(i, o) for i, o in zip(ins, outs) if isinstance(i, str) and isinstance(o, str)]
        return [i for i, _ in pairs], [o for _, o in pairs], False
    if isinstance(value, list):  # LiveCodeBench: [{"input", "output", "testtype"}]
        cases = [t for t in value if isinstance(t, dict) and isinstance(t.get("input"), str)
                 and isinstance(t.get("output"), str)]
        functional = any(t.get("testtype") == "functional" for t in cases)
        ins = [t["input"] for t in cases]
        if functional:  # newline-separated JSON args -> one JSON array
            ins = ["[" + ",".join(line for line in i.split("\n") if line.strip()) + "]" for i in ins]
        return ins, [t["output"] for t in cases], functional
    return [], [], False


def _sources(value: Any) -> list[str]:
    value = _maybe_json(value)
    if isinstance(value, dict) and "solution" in value:  # CodeContests: keep PYTHON3 (language 3)
        langs = value.get("language") or [3] * len(value["solution"])
        return [s for s, lang in zip(value["solution"], langs) if lang == 3]
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [s for s in value or [] if isinstance(s, str)]


def _difficulty(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    return _DIFFICULTY_WORDS.get(str(value or "").strip().lower(), 0)


def _seconds(value: Any) -> float | None:
    if isinstance(value, dict):  # CodeContests: {"seconds", "nanos"}
        return (value.get("seconds") or 0) + (value.get("nanos") or 0) / 1e9 or None
    value = _leading_number(value, ("second",))
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _leading_number(value: Any, units: tuple[str, ...]) -> Any:
    """TACO writes limits as text ("2 seconds", "256 megabytes"); other text is no limit."""
    if not isinstance(value, str):
        return value
    parts = value.strip().lower().split()
    if len(parts) == 2 and parts[1].startswith(units):
        try:
            return float(parts[0])
        except ValueError:
            return None
    return None


def _megabytes(value: Any) -> int | None:
    value = _leading_number(value, ("megabyte", "mb"))
    if isinstance(value, (int, float)) and value > 0:
        return int(value // (1 << 20)) if value > 1 << 20 else int(value)
    return None
