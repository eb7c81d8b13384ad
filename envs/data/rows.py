"""Rows from a dataset: local JSONL / JSON / parquet / CSV, or a hub dataset by name.

Every source ends up as the same plain rows ``{"prompt", "answer", "system",
"difficulty", "row"}`` after a column mapping, filters, de-duplication by normalised
prompt text and a seeded shuffle, so the same options always give the same order.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PROMPT_KEYS = ("prompt", "question", "problem", "input", "query")
ANSWER_KEYS = ("answer", "final_answer", "target", "solution", "output")
_LOCAL_SUFFIXES = {".jsonl", ".json", ".parquet", ".csv"}


def read_records(source: str | Path, split: str = "train", hf_config: str | None = None) -> list[dict[str, Any]]:
    """Raw records of a local file, or of a hub dataset (only where the network allows)."""
    path = Path(source)
    if path.suffix in _LOCAL_SUFFIXES or path.exists():
        import pandas as pd

        if not path.exists():
            raise FileNotFoundError(f"dataset file not found: {path}")
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_json(path, lines=path.suffix == ".jsonl", dtype=False)
        return frame.to_dict(orient="records")
    import datasets

    ds = datasets.load_dataset(str(source), hf_config, split=split)
    return [dict(r) for r in ds]


def normalize_prompt(text: str) -> str:
    """The key used for de-duplication: NFKC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _pick(record: Mapping[str, Any], name: str | None, defaults: Sequence[str]) -> Any:
    if name is not None:
        return record.get(name)
    return next((record[k] for k in defaults if k in record and record[k] not in (None, "")), None)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None / NaN
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _passes(view: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    col = flt.get("column")
    if col is None:
        raise ValueError(f"filter needs a 'column': {dict(flt)}")
    value = view.get(col)
    if "equals" in flt and value != flt["equals"] and _text(value) != _text(flt["equals"]):
        return False
    if "not_equals" in flt and (value == flt["not_equals"] or _text(value) == _text(flt["not_equals"])):
        return False
    if "in" in flt and value not in flt["in"] and _text(value) not in {_text(v) for v in flt["in"]}:
        return False
    if "max_len" in flt and len(_text(value) or "") > int(flt["max_len"]):
        return False
    if "min_len" in flt and len(_text(value) or "") < int(flt["min_len"]):
        return False
    known = {"column", "equals", "not_equals", "in", "max_len", "min_len"}
    unknown = set(flt) - known
    if unknown:
        raise ValueError(f"unknown filter keys {sorted(unknown)}; known: {sorted(known)}")
    return True


def map_rows(
    records: Iterable[Mapping[str, Any]],
    columns: Mapping[str, str] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    answer_pattern: str | None = None,
) -> list[dict[str, Any]]:
    """Apply the column mapping and filters; drop rows without a prompt or an answer.

    ``columns`` maps our fields (prompt, answer, system, difficulty) to source columns.
    Filters see the source columns and our field names. ``answer_pattern`` is a regex
    whose first group is the answer (e.g. ``"####\\s*(.+)$"`` for GSM8K solutions).
    """
    columns = dict(columns or {})
    unknown = set(columns) - {"prompt", "answer", "system", "difficulty"}
    if unknown:
        raise ValueError(f"unknown column mapping keys {sorted(unknown)}")
    pattern = re.compile(answer_pattern, re.MULTILINE) if answer_pattern else None
    out = []
    for i, rec in enumerate(records):
        prompt = _text(_pick(rec, columns.get("prompt"), PROMPT_KEYS))
        answer = _text(_pick(rec, columns.get("answer"), ANSWER_KEYS))
        if pattern and answer:
            m = pattern.search(answer)
            answer = _text(m.group(1)) if m else None
        level = rec.get(columns["difficulty"]) if "difficulty" in columns else None
        row = {
            "prompt": prompt,
            "answer": answer,
            "system": _text(rec.get(columns["system"])) if "system" in columns else None,
            "difficulty": int(level) if _text(level) is not None else None,
            "row": i,
        }
        view = {**rec, **{k: v for k, v in row.items() if k not in rec}}
        if prompt and answer and all(_passes(view, f) for f in filters or ()):
            out.append(row)
    return out


def dedup_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the first row of each normalised prompt."""
    seen: set[str] = set()
    out = []
    for row in rows:
        key = normalize_prompt(row["prompt"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def load_rows(
    source: str | Path,
    *,
    split: str = "train",
    hf_config: str | None = None,
    columns: Mapping[str, str] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    answer_pattern: str | None = None,
    dedup: bool = True,
    shuffle: bool = True,
    seed: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Mapped, filtered, de-duplicated rows in a seeded order (same options, same list)."""
    rows = map_rows(read_records(source, split, hf_config), columns, filters, answer_pattern)
    if dedup:
        rows = dedup_rows(rows)
    if shuffle:
        random.Random(f"rows:{seed}").shuffle(rows)
    return rows[:limit] if limit is not None else rows
