"""Dataset-backed math environments: one row per sample, judged by final-answer equivalence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.shipped import data_file
from envs.base import Environment, register_env
from envs.data.rows import load_rows
from envs.task import Task

DATA_DIR = data_file("math")
ANSWER_INSTRUCTION = "Put your final answer in \\boxed{}."
DEFAULT_TEMPLATE = "{prompt}\n\n" + ANSWER_INSTRUCTION


class DatasetEnvironment(Environment):
    """Rows of a local file or hub dataset as Tasks; ``sample(seed)`` walks the shuffled rows.

    Rows are loaded lazily on the first sample, so building the environment (for
    example to list it) costs nothing. With a difficulty column, ``sample`` draws from
    the rows at the nearest available level; otherwise difficulty is ignored.
    """

    source = "datasets"

    def __init__(
        self,
        path: str | Path | None = None,
        hf: str | None = None,
        hf_config: str | None = None,
        split: str = "train",
        columns: dict[str, str] | None = None,
        filters: list[dict[str, Any]] | None = None,
        answer_pattern: str | None = None,
        seed: int = 0,
        system_prompt: str | None = None,
        verifier: str = "math",
        prompt_template: str = DEFAULT_TEMPLATE,
        dedup: bool = True,
        limit: int | None = None,
        chat: bool = False,
    ) -> None:
        if (path is None) == (hf is None):
            raise ValueError("give exactly one of 'path' (a local file) or 'hf' (a dataset name)")
        if "{prompt}" not in prompt_template:
            raise ValueError("prompt_template must contain '{prompt}'")
        self.origin = _origin(path) if path is not None else str(hf)
        self._load = dict(
            source=Path(path) if path is not None else str(hf),
            split=split, hf_config=hf_config, columns=columns, filters=filters,
            answer_pattern=answer_pattern, dedup=dedup, seed=seed, limit=limit,
        )
        self.system_prompt, self.verifier = system_prompt, verifier
        self.prompt_template, self.chat = prompt_template, chat
        self._rows: list[dict[str, Any]] | None = None
        self._levels: dict[int, list[dict[str, Any]]] = {}

    @property
    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            rows = load_rows(**self._load)
            if not rows:
                raise ValueError(f"no usable rows in {self.origin} after mapping and filters")
            levels: dict[int, list[dict[str, Any]]] = {}
            for r in rows:
                if r["difficulty"] is not None:
                    levels.setdefault(r["difficulty"], []).append(r)
            if levels:
                self.min_difficulty, self.max_difficulty = min(levels), max(levels)
            self._rows, self._levels = rows, levels
        return self._rows

    def __len__(self) -> int:
        return len(self.rows)

    def sample(self, seed: int, difficulty: int = 0) -> Task:
        rows = self.rows
        if self._levels:
            level = min(self._levels, key=lambda lv: (abs(lv - difficulty), lv))
            rows = self._levels[level]
        else:
            level = self.clamp(difficulty)
        row = rows[seed % len(rows)]
        return self.task(row, seed, level)

    def task(self, row: dict[str, Any], seed: int = 0, difficulty: int = 0) -> Task:
        """The Task for one mapped row."""
        text = self.prompt_template.replace("{prompt}", row["prompt"])
        system = row["system"] or self.system_prompt
        prompt: Any = text
        if system or self.chat:
            prompt = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
        return Task(
            prompt=prompt,
            verifier=self.verifier,
            payload={"answer": row["answer"]},
            env_id=self.env_id or "data/math",
            difficulty=difficulty,
            seed=seed,
            reference=f"The answer is \\boxed{{{row['answer']}}}.",
            meta={"source": self.origin, "row": row["row"]},
        )


def _origin(path: str | Path) -> str:
    """``data/...`` for shipped files, so stored Tasks do not name this machine."""
    p = Path(path).resolve()
    try:
        return str(Path("data") / p.relative_to(DATA_DIR.parent))
    except ValueError:
        return str(path)


@register_env("data/math", source="datasets", description="math problems from a local file or hub dataset",
              options_from=DatasetEnvironment)
def make_math_env(**options: Any) -> DatasetEnvironment:
    """Options: path | hf, columns, split, filters, seed, system_prompt, verifier, prompt_template."""
    return DatasetEnvironment(**options)


def _preset(filename: str, **defaults: Any) -> Any:
    def make(**options: Any) -> DatasetEnvironment:
        return DatasetEnvironment(**{"path": DATA_DIR / filename, **defaults, **options})

    return make


register_env("data/tiny_arith", source="datasets", max_difficulty=2, description="one-step arithmetic shipped in data/math",
             options_from=DatasetEnvironment)(
    _preset("tiny_arith.jsonl", columns={"difficulty": "difficulty"})
)
# the arith/add question ("What is 3 + 4?") as a math row in chat form asking for a boxed answer: a
# math-verify target a tiny policy reaches by carrying its a + b over to a new prompt (configs/tiny-learn.yaml)
register_env("data/tiny_sums", source="datasets", description="a + b for a, b in 0..19 as math rows (boxed answers)",
             options_from=DatasetEnvironment)(
    _preset("tiny_sums.jsonl", chat=True)
)
register_env("data/competition_sample", source="datasets", description="40 hand-written competition-style problems",
             options_from=DatasetEnvironment)(
    _preset("competition_sample.jsonl")
)
