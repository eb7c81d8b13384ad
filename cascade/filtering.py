"""Pass-rate filtering between stages (report §VII-D).

Before a stage trains, the incoming policy answers each candidate prompt G times (through the
stage's rollout engine, plain sampling at temperature 1); prompts
whose pass rate falls outside [min, max] are dropped (the report kept <= 0.75: a prompt
the policy already solves teaches little). The result is cached in the stage directory
so a resumed run does not sample again.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cascade.config import PassRateFilter
from cascade.generation.engine import RolloutEngine, SamplingParams, generate_texts
from cascade.manifest import write_json_atomic
from envs import Task

CACHE_FILE = "pass_rate_filter.json"


def histogram(rates: list[float], bins: int = 10) -> dict[str, int]:
    """Counts of pass rates per [k/bins, (k+1)/bins) bin (1.0 falls in the last bin)."""
    counts = Counter(min(int(r * bins), bins - 1) for r in rates)
    return {f"{k / bins:.1f}-{(k + 1) / bins:.1f}": counts.get(k, 0) for k in range(bins)}


def filter_by_pass_rate(
    engine: RolloutEngine | None, tokenizer: Any, tasks: list[Task], cfg: PassRateFilter, pool: Any, stage_path: Path
) -> tuple[list[Task], dict[str, Any]]:
    """Keep tasks with pass rate in ``[cfg.min_pass, cfg.max_pass]``; cached in ``stage_path``.

    Completions come from the stage's rollout engine (the project's one generation path).
    """
    cache = stage_path / CACHE_FILE
    if cache.is_file():
        data = json.loads(cache.read_text())
        return [Task.from_dict(t) for t in data["kept"]], data["stats"]
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens)
    completions = generate_texts(engine, tokenizer, [t.prompt for t in tasks], cfg.num_generations, sampling)
    items = [(t.verifier, c, t.payload) for t, cs in zip(tasks, completions) for c in cs]
    verdicts = pool.verify(items)
    g = cfg.num_generations
    rates = [sum(v.correct for v in verdicts[i * g : (i + 1) * g]) / g for i in range(len(tasks))]
    kept = [t for t, r in zip(tasks, rates) if cfg.min_pass <= r <= cfg.max_pass]
    stats = {
        "candidates": len(tasks),
        "kept": len(kept),
        "removed": len(tasks) - len(kept),
        "mean_pass_rate": sum(rates) / len(rates) if rates else 0.0,
        "histogram": histogram(rates),
    }
    write_json_atomic(cache, {"kept": [t.to_dict() for t in kept], "stats": stats})
    return kept, stats
