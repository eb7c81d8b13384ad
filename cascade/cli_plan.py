"""``cascade plan CONFIG``: the resolved layout and batch arithmetic of every stage, nothing started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cascade.cli_app import SetOpt, app, die

COLUMNS = ["stage", "kind", "workers", "CPU/GPU each", "backend / sharding", "per-device x accum", "prompts x G / step", "gen batch (steps)", "steps"]


def _row(stage: dict[str, Any]) -> list[str]:
    g = stage.get("generations_per_prompt")
    per_step = f"{stage['prompts_per_step']} x {g} = {stage['completions_per_step']}" if g else f"{stage['prompts_per_step']} samples"
    gen = f"{stage['generation_batch_size']} ({stage['steps_per_generation']})" if "generation_batch_size" in stage else "-"
    return [
        stage["name"],
        stage["kind"],
        str(stage["train_workers"]),
        f"{stage['cpus_per_worker']:g} / {stage['gpus_per_worker']:g}",
        f"{stage['backend']} / {stage['sharding']}",
        f"{stage['per_device_train_batch_size']} x {stage['gradient_accumulation_steps']}",
        per_step,
        gen,
        str(stage["max_steps"]),
    ]


@app.command()
def plan(
    config: Path,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object")] = False,
) -> None:
    """Validate CONFIG and print each stage's workers, sharding and batch arithmetic (starts nothing)."""
    from rich.console import Console

    from cascade.cli import _load
    from cascade.config import ConfigError
    from cascade.plan import plan as build_plan

    cfg = _load(config, set_)
    try:
        result = build_plan(cfg)
    except ConfigError as exc:
        die(f"{config}: {exc}")
    if as_json:
        print(json.dumps(result, indent=1))
        return
    console = Console(width=200)
    table = Table(title=f"cascade plan: {config}")
    for column in COLUMNS:
        table.add_column(column)
    for stage in result["stages"]:
        table.add_row(*_row(stage))
    console.print(table)
    for stage in result["stages"]:
        if stage.get("generation"):
            console.print(f"{stage['name']}: generation: {stage['generation']}")
        if stage.get("reward_model"):
            console.print(f"{stage['name']}: reward model: {stage['reward_model']}")
        if stage.get("rsa_refresh"):
            console.print(f"{stage['name']}: rsa/aggregate candidates: {stage['rsa_refresh']}")
