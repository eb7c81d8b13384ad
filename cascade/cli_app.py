"""The typer app and the helpers every ``cascade`` command module shares.

Command modules (``cascade.cli``, ``cascade.cli_inference``) register on ``app`` here, so
they agree on one app however the CLI is started (console script or ``python -m``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The ZAYA1 RL post-training cascade.")
envs_app = typer.Typer(no_args_is_help=True, help="List and sample environments.")
app.add_typer(envs_app, name="envs")
console = Console(stderr=True)

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: key.path=value")]
OptionOpt = Annotated[list[str] | None, typer.Option("--option", "-o", help="Env option: key=value")]


def parse_env_options(items: list[str] | None) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            die(f"--option {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        options[key] = yaml.safe_load(raw)
    return options


def die(message: str) -> NoReturn:
    """Bad invocation: one line on stderr, exit status 2."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(2)
