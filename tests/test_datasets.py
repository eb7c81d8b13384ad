"""Dataset environments: local JSONL / parquet loading with mappings, filters, dedup,
seeded shuffles, the shipped math sets, and weighted mixtures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from envs import Environment, Task, get_env
from envs.data import DatasetEnvironment, MixtureEnvironment, load_rows, mixture

ROOT = Path(__file__).resolve().parents[1]
RECORDS = [
    {"q": "What is 1+1?", "gold": "2", "lvl": 0, "src": "a", "sys": "Be terse."},
    {"q": "  what IS 1+1? ", "gold": "2", "lvl": 0, "src": "a", "sys": None},  # duplicate after normalising
    {"q": "What is 2+3?", "gold": 5, "lvl": 1, "src": "b", "sys": None},
    {"q": "What is 9*9?", "gold": "81", "lvl": 2, "src": "a", "sys": None},
    {"q": "A very long question " * 20, "gold": "1", "lvl": 2, "src": "a", "sys": None},
    {"q": "No answer here", "gold": None, "lvl": 0, "src": "a", "sys": None},
]
COLUMNS = {"prompt": "q", "answer": "gold", "difficulty": "lvl", "system": "sys"}


@pytest.fixture()
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


@pytest.fixture()
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "rows.parquet"
    frame = pd.DataFrame(RECORDS)
    frame["gold"] = [None if g is None else str(g) for g in frame["gold"]]  # parquet columns are typed
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_mapping_dedup_and_dropping_rows_without_answer(kind: str, request: pytest.FixtureRequest) -> None:
    rows = load_rows(request.getfixturevalue(kind), columns=COLUMNS, shuffle=False)
    assert [r["answer"] for r in rows] == ["2", "5", "81", "1"]  # dup and answerless rows gone
    assert rows[0]["system"] == "Be terse." and rows[0]["difficulty"] == 0
    assert rows[1]["prompt"] == "What is 2+3?" and rows[1]["row"] == 2
    assert len(load_rows(request.getfixturevalue(kind), columns=COLUMNS, dedup=False)) == 5


def test_filters(jsonl: Path) -> None:
    def answers(filters: list[dict]) -> list[str]:
        return sorted(r["answer"] for r in load_rows(jsonl, columns=COLUMNS, filters=filters))

    assert answers([{"column": "src", "equals": "a"}]) == ["1", "2", "81"]
    assert answers([{"column": "lvl", "in": [1, 2]}]) == ["1", "5", "81"]
    assert answers([{"column": "prompt", "max_len": 50}]) == ["2", "5", "81"]
    assert answers([{"column": "src", "equals": "a"}, {"column": "q", "max_len": 50}]) == ["2", "81"]
    with pytest.raises(ValueError):
        load_rows(jsonl, columns=COLUMNS, filters=[{"column": "src", "like": "a"}])


def test_default_columns_and_answer_pattern(tmp_path: Path) -> None:
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "Q?", "answer": "work... #### 42"}) + "\n")
    assert load_rows(path)[0]["answer"] == "work... #### 42"
    assert load_rows(path, answer_pattern=r"####\s*(.+)$")[0]["answer"] == "42"


def test_shuffle_is_seeded(jsonl: Path) -> None:
    shipped = ROOT / "data" / "math" / "tiny_arith.jsonl"
    a, b, c = (load_rows(shipped, seed=s) for s in (1, 1, 2))
    assert a == b and a != c
    assert sorted(r["row"] for r in a) == sorted(r["row"] for r in c)


def test_environment_samples_are_deterministic_tasks(jsonl: Path) -> None:
    env = DatasetEnvironment(path=jsonl, columns=COLUMNS, seed=3, system_prompt="Default system.")
    t1, t2 = env.sample(7, 0), DatasetEnvironment(path=jsonl, columns=COLUMNS, seed=3).sample(7, 0)
    assert t1.payload == t2.payload and t1.prompt_text() == t2.prompt_text()
    assert (env.min_difficulty, env.max_difficulty) == (0, 2)
    assert env.sample(0, 1).payload == {"answer": "5"}  # only level-1 row
    assert env.sample(0, 9).difficulty == 2  # nearest level
    task = env.sample(0, 0)
    assert task.verifier == "math" and task.reference == r"The answer is \boxed{2}."
    assert task.prompt[0] == {"role": "system", "content": "Be terse."}  # row's system beats default
    assert task.prompt_text().endswith(r"Put your final answer in \boxed{}.")
    assert Task.from_dict(json.loads(task.to_json())) == task


def test_registered_math_env_and_presets(jsonl: Path) -> None:
    env = get_env("data/math", path=str(jsonl), columns={"prompt": "q", "answer": "gold"}, verifier="exact")
    task = env.sample(1)
    assert task.env_id == "data/math" and task.verifier == "exact" and isinstance(task.prompt, str)
    tiny = get_env("data/tiny_arith")
    assert len(tiny) >= 150 and tiny.sample(0, 2).prompt_text().split("\n")[0].count("*") == 1
    assert len(get_env("data/competition_sample")) >= 40
    with pytest.raises(ValueError):
        DatasetEnvironment(path=jsonl, hf="some/name")
    with pytest.raises(ValueError):
        DatasetEnvironment(path=jsonl, prompt_template="no placeholder")


def test_shipped_sets_are_small_and_their_references_verify() -> None:
    from verifiers.math import MathVerifier

    v = MathVerifier(timeout_s=10)
    for name in ("tiny_arith", "tiny_sums", "competition_sample"):
        path = ROOT / "data" / "math" / f"{name}.jsonl"
        assert path.stat().st_size < 30_000
        env = get_env(f"data/{name}")
        for row in env.rows:
            task = env.task(row)
            assert v.verify(task.reference, task.payload).correct, row
    # tiny-learn's math_code target: arith/add's question, in chat form like arith/add's prompts
    sums = get_env("data/tiny_sums").sample(seed=7)
    assert sums.prompt[0]["role"] == "user" and sums.prompt[0]["content"].startswith("What is ")


class _Const(Environment):
    def __init__(self, name: str) -> None:
        self.env_id = name

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        return Task(prompt=self.env_id, verifier="math", payload={"answer": "1"}, env_id=self.env_id, seed=seed)


def test_mixture_proportions_follow_weights() -> None:
    mix = mixture([(_Const("puzzles"), 54), (_Const("math"), 31), (_Const("enigmata"), 14)])
    n = 20_000
    counts = Counter(mix.sample(s).env_id for s in range(n))
    for name, w in (("puzzles", 54 / 99), ("math", 31 / 99), ("enigmata", 14 / 99)):
        assert abs(counts[name] / n - w) < 0.015, counts
    assert [mix.sample(s).env_id for s in range(50)] == [mix.sample(s).env_id for s in range(50)]
    other = MixtureEnvironment([(_Const("puzzles"), 54), (_Const("math"), 31), (_Const("enigmata"), 14)], salt=1)
    assert [other.pick(s) for s in range(50)] != [mix.pick(s) for s in range(50)]
    assert mix.sample(3).meta["mixture_child"] == mix.pick(3)


def test_mixture_validation_and_registry(jsonl: Path) -> None:
    for bad in ([], [(_Const("a"), 0)], [(_Const("a"), -1), (_Const("b"), 2)], [(_Const("a"), float("nan"))]):
        with pytest.raises(ValueError):
            mixture(bad)
    assert {mixture([(_Const("a"), 0), (_Const("b"), 1)]).sample(s).env_id for s in range(100)} == {"b"}
    mix = get_env(
        "data/mixture",
        children=[
            {"env": "data/tiny_arith", "weight": 0.7},
            {"env": "data/math", "weight": 0.3, "options": {"path": str(jsonl), "columns": COLUMNS}},
        ],
    )
    ids = Counter(mix.sample(s).env_id for s in range(400))
    assert set(ids) == {"data/tiny_arith", "data/math"} and ids["data/tiny_arith"] > ids["data/math"]


def test_hub_names_go_through_datasets_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def fake_load(name: str, config: str | None = None, split: str = "train") -> list[dict]:
        calls.append((name, config, split))
        return [{"problem": "P", "answer": "3"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    env = get_env("data/math", hf="org/math-set", hf_config="main", split="test")
    assert env.sample(0).payload == {"answer": "3"}
    assert calls == [("org/math-set", "main", "test")]
