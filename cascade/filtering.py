"""Pass-rate filtering between stages (report §VII-D).

Before a stage trains, the incoming policy answers each candidate prompt G times; prompts
whose pass rate falls outside [min, max] are dropped (the report kept <= 0.75: a prompt
the policy already solves teaches little). The result is cached in the stage directory
so a resumed run does not sample again.

With N training workers the candidates are split round-robin over the ranks; each rank
samples and verifies its share on its own device, the pass rates are gathered, and every
rank applies the same merged result. Rank 0 alone writes the cache.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from cascade.config import PassRateFilter
from cascade.distributed import all_gather_list, is_main, rank, world_size
from cascade.manifest import write_json_atomic
from cascade.task_stream import as_chat
from envs import Task

CACHE_FILE = "pass_rate_filter.json"


@torch.no_grad()
def sample_completions(model: Any, tokenizer: Any, prompts: list[Any], n: int, max_new_tokens: int, batch_size: int = 16) -> list[list[str]]:
    """``n`` sampled completions per chat prompt, with the policy's own generation settings.

    Prompts are padded on the left, so every prompt's last token sits next to its completion.
    """
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        return _sample(model, tokenizer, prompts, n, max_new_tokens, batch_size)
    finally:
        tokenizer.padding_side = side


def _sample(model: Any, tokenizer: Any, prompts: list[Any], n: int, max_new_tokens: int, batch_size: int) -> list[list[str]]:
    out: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        texts = [tokenizer.apply_chat_template(as_chat(p), tokenize=False, add_generation_prompt=True) for p in chunk]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        gen = model.generate(
            **enc, do_sample=True, num_return_sequences=n, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id
        )
        decoded = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out += [decoded[i * n : (i + 1) * n] for i in range(len(chunk))]
    return out


def histogram(rates: list[float], bins: int = 10) -> dict[str, int]:
    """Counts of pass rates per [k/bins, (k+1)/bins) bin (1.0 falls in the last bin)."""
    counts = Counter(min(int(r * bins), bins - 1) for r in rates)
    return {f"{k / bins:.1f}-{(k + 1) / bins:.1f}": counts.get(k, 0) for k in range(bins)}


def filter_by_pass_rate(
    model: Any, tokenizer: Any, tasks: list[Task], cfg: PassRateFilter, pool: Any, stage_path: Path
) -> tuple[list[Task], dict[str, Any]]:
    """Keep tasks with pass rate in ``[cfg.min_pass, cfg.max_pass]``; cached in ``stage_path``."""
    cache = stage_path / CACHE_FILE
    if cache.is_file():
        data = json.loads(cache.read_text())
        return [Task.from_dict(t) for t in data["kept"]], data["stats"]
    mine = list(range(rank(), len(tasks), world_size()))
    completions = sample_completions(model, tokenizer, [tasks[i].prompt for i in mine], cfg.num_generations, cfg.max_new_tokens)
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
