"""Pass-rate filtering between stages (report §VII-D).

Before a stage trains, the incoming policy answers each candidate prompt G times (through the
stage's rollout engine, plain sampling at temperature 1); prompts whose pass rate falls
outside [min, max] are dropped (the report kept <= 0.75: a prompt the policy already solves
teaches little). The result is cached in the stage directory so a resumed run does not
sample again.

With N training workers the candidates are split round-robin over the ranks; each rank
samples and verifies its share on its own device, the pass rates are gathered, and every
rank applies the same merged result. On a stage with rollout engines rank 0 samples every
candidate through the shared engine actors (``shared``). Rank 0 alone writes the cache.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cascade.config import PassRateFilter
from cascade.distributed import all_gather_list, is_main
from cascade.generation.actors import owner_share
from cascade.generation.engine import RolloutEngine, SamplingParams, generate_texts
from cascade.manifest import write_json_atomic
from envs import Task

CACHE_FILE = "pass_rate_filter.json"


def histogram(rates: list[float], bins: int = 10) -> dict[str, int]:
    """Counts of pass rates per [k/bins, (k+1)/bins) bin (1.0 falls in the last bin)."""
    counts = Counter(min(int(r * bins), bins - 1) for r in rates)
    return {f"{k / bins:.1f}-{(k + 1) / bins:.1f}": counts.get(k, 0) for k in range(bins)}


def filter_by_pass_rate(
    engine: RolloutEngine | None, tokenizer: Any, tasks: list[Task], cfg: PassRateFilter, pool: Any, stage_path: Path,
    shared: bool = False,
) -> tuple[list[Task], dict[str, Any]]:
    """Keep tasks with pass rate in ``[cfg.min_pass, cfg.max_pass]``; cached in ``stage_path``.

    Completions come from the stage's rollout engine (the project's one generation path);
    ``shared``: the stage's engine actors, held by rank 0 (``engine`` is None elsewhere).
    """
    cache = stage_path / CACHE_FILE
    if cache.is_file():
        data = json.loads(cache.read_text())
        return [Task.from_dict(t) for t in data["kept"]], data["stats"]
    mine = owner_share(len(tasks), shared)
    sampling = SamplingParams(max_new_tokens=cfg.max_new_tokens)
    completions = generate_texts(engine, tokenizer, [tasks[i].prompt for i in mine], cfg.num_generations, sampling)
    items = [(tasks[i].verifier, c, tasks[i].payload) for i, cs in zip(mine, completions) for c in cs]
    verdicts = pool.verify(items)
    g = cfg.num_generations
    local = [(i, sum(v.correct for v in verdicts[k * g : (k + 1) * g]) / g) for k, i in enumerate(mine)]
    by_index = dict(all_gather_list(local))
    rates = [by_index[i] for i in range(len(tasks))]
    kept = [t for t, r in zip(tasks, rates) if cfg.min_pass <= r <= cfg.max_pass]
    stats = {
        "candidates": len(tasks),
        "kept": len(kept),
        "removed": len(tasks) - len(kept),
        "mean_pass_rate": sum(rates) / len(rates) if rates else 0.0,
        "histogram": histogram(rates),
    }
    if is_main():
        write_json_atomic(cache, {"kept": [t.to_dict() for t in kept], "stats": stats})
    return kept, stats
