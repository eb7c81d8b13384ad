"""The ``cascade`` command line (typer).

Bad input (config errors, unknown stages, verifiers or environments, unreadable payloads)
exits with status 2 and one line on stderr, before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cascade.progress import StageProgress
from cascade.cli_app import OptionOpt, SetOpt, parse_env_options, app, console, die, envs_app

VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Also stream worker output (run_dir/<stage>/log.txt, Ray logs)")]
EveryOpt = Annotated[int, typer.Option(help="Without a terminal, print a progress line every N steps")]


def _verbose(cfg: Any, verbose: bool) -> Any:
    """``--verbose`` turns Ray's log_to_driver on; otherwise the config's value stands."""
    if verbose:
        cfg.ray.log_to_driver = True
    return cfg


def _load(config: Path, overrides: list[str] | None) -> Any:
    from cascade.config import ConfigError, load_config

    try:
        return load_config(config, overrides or [])
    except ConfigError as exc:
        die(str(exc))


@app.command()
def run(
    config: Path,
    set_: SetOpt = None,
    from_: Annotated[str | None, typer.Option("--from", help="Start at this stage (rerun it and the rest)")] = None,
    until: Annotated[str | None, typer.Option(help="Stop after this stage")] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the run dir (only one this project wrote) and start over")] = False,
    verbose: VerboseOpt = False,
    every: EveryOpt = 10,
) -> None:
    """Run the whole cascade in CONFIG (resumes a previous run in the same run_dir)."""
    from cascade.config import ConfigError
    from cascade.driver import run_cascade

    cfg = _verbose(_load(config, set_), verbose)
    try:
        with StageProgress(console, every=every, verbose=verbose) as progress:
            manifest = run_cascade(cfg, start=from_, until=until, fresh=fresh, notify=console.print, progress=progress)
    except ConfigError as exc:
        die(str(exc))
    _finish(cfg, manifest)


@app.command()
def stage(
    config: Path,
    name: str,
    init: Annotated[str | None, typer.Option(help="Checkpoint to start from")] = None,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
    every: EveryOpt = 10,
) -> None:
    """Run one stage of CONFIG (from --init, else the previous stage's checkpoint, else the policy)."""
    from cascade.config import ConfigError
    from cascade.driver import absolutize, prepare_run_dir, reset_stage, run_one, start_ray

    cfg = absolutize(_verbose(_load(config, set_), verbose))
    try:
        target = cfg.stage(name)
    except ConfigError as exc:
        die(str(exc))
    if init is not None and not Path(init).exists():
        die(f"--init {init}: no such checkpoint")
    manifest = prepare_run_dir(cfg, fresh=False)
    names = [s.name for s in cfg.stages]
    if init is None:
        earlier = names[: names.index(name)]
        done = [n for n in earlier if manifest.is_done(n)]
        init = manifest.stage(done[-1])["checkpoint"] if done else None
    if manifest.is_done(name):
        console.print(f"{name} was done; running it again from scratch")
        reset_stage(cfg, manifest, name)
    start_ray(cfg.ray)
    console.print(f"{name} ({target.kind}) starting from {init or cfg.policy.name_or_path}")
    with StageProgress(console, every=every, verbose=verbose) as progress:
        run_one(cfg, manifest, target, init, console.print, progress)
    _finish(cfg, manifest, only=[name])


def _finish(cfg: Any, manifest: Any, only: list[str] | None = None) -> None:
    from cascade.report import write_report

    print_summary(manifest, only)
    try:
        report = write_report(Path(cfg.run_dir))
        console.print(f"report: {report}")
    except Exception as exc:  # noqa: BLE001 - a plotting problem must not fail a finished run
        console.print(f"[yellow]report not written: {exc}[/yellow]")


def print_summary(manifest: Any, only: list[str] | None = None) -> None:
    """The per-stage table: steps, reward at start and end, time, eval change, flags, checkpoint."""
    from cascade.report.summary import COLUMNS, summary_rows

    table = Table(title="cascade summary")
    for col in (*COLUMNS, "checkpoint"):
        table.add_column(col, overflow="fold", style="yellow" if col == "notes" else None)
    for row in summary_rows(manifest.path.parent, manifest.data, only):
        checkpoint = _short_path(manifest.stage(row["stage"]).get("checkpoint"))
        table.add_row(*(row[c] for c in COLUMNS), checkpoint)
    Console(width=max(Console().width, 140)).print(table)


def _short_path(path: str | None) -> str:
    """Checkpoint paths relative to the working directory when they are under it."""
    if path is None:
        return "-"
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


@envs_app.command("list")
def envs_list(
    source: Annotated[str | None, typer.Option(help="Only this source (rlve, rg, builtin, ...)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List registered environments with their source and difficulty range."""
    from envs import list_envs

    infos = list_envs(source)
    if as_json:
        print(json.dumps([i.to_dict() for i in infos]))
        return
    table = Table(title=f"{len(infos)} environments")
    for col in ("env_id", "source", "difficulty"):
        table.add_column(col)
    for i in infos:
        table.add_row(i.env_id, i.source, f"{i.min_difficulty}..{'' if i.max_difficulty is None else i.max_difficulty}")
    Console().print(table)


@envs_app.command("sample")
def envs_sample(
    env_id: str,
    difficulty: int = 0,
    seed: int = 0,
    option: OptionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Print the task ENV_ID gives for (difficulty, seed); the same arguments give the same task."""
    from envs import UnknownEnvironmentError, get_env

    try:
        task = get_env(env_id, **parse_env_options(option)).sample(seed=seed, difficulty=difficulty)
    except UnknownEnvironmentError as exc:
        die(str(exc))
    except (ValueError, TypeError, OSError) as exc:
        die(f"{env_id}: {exc}")
    if as_json:
        print(task.to_json())
    else:
        Console().print(task.prompt_text())
        Console().print({"verifier": task.verifier, "payload": task.payload, "reference": task.reference})


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        die(f"--{what} {path}: {exc.strerror or exc}")


@app.command()
def verify(
    verifier: str,
    payload: Annotated[Path, typer.Option(help="JSON file: the task payload, or a whole task from `envs sample --json`")],
    completion: Annotated[Path, typer.Option(help="Text file with the completion")],
) -> None:
    """Judge one completion; prints the verdict as one JSON object."""
    from verifiers import UnknownVerifierError, get_verifier, verify_safely

    try:
        judge = get_verifier(verifier)
    except UnknownVerifierError as exc:
        die(str(exc))
    try:
        data = json.loads(_read(payload, "payload"))
    except json.JSONDecodeError as exc:
        die(f"--payload {payload}: invalid JSON: {exc}")
    if not isinstance(data, dict):
        die(f"--payload {payload}: expected a JSON object, got {type(data).__name__}")
    if {"prompt", "verifier", "payload", "env_id"} <= data.keys():  # a whole task from `envs sample --json`
        data = data["payload"]
    verdict = verify_safely(judge, _read(completion, "completion"), data)
    print(json.dumps(verdict.to_dict(), default=str))


@app.command()
def report(
    run_dir: Path,
    html: Annotated[bool, typer.Option("--html", help="Also write RUN_DIR/report.html, one self-contained page")] = False,
) -> None:
    """Write RUN_DIR/report.md with PNG plots of the run's metrics (and report.html with --html)."""
    from cascade.report import write_report

    try:
        print(write_report(run_dir, html=html))
        if html:
            print(Path(run_dir) / "report.html")
    except FileNotFoundError as exc:
        die(str(exc))


# The inference commands (rsa, rsa-rollouts, eval) live in their own module; importing it
# registers them on `app`.
import cascade.cli_inference  # noqa: E402,F401
import cascade.cli_plan  # noqa: E402,F401  (registers `cascade plan`)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
