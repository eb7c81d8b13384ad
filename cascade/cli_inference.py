"""Inference commands of the ``cascade`` CLI: Markovian RSA, RSA rollout files, evaluation.

Registered on the same typer app as the training commands (see ``cascade.cli``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cascade.cli_app import OptionOpt, parse_env_options, app, console, die


def _policy(checkpoint: str) -> tuple[Any, Any]:
    """A checkpoint dir (or ``tiny``); a missing one is a usage error, not a traceback."""
    from cascade.config import PolicyConfig
    from cascade.policy import load_policy

    if checkpoint != "tiny" and not (Path(checkpoint) / "config.json").is_file():
        die(f"{checkpoint}: not a checkpoint directory (no config.json)")
    return load_policy(PolicyConfig(), checkpoint)


BackendOpt = Annotated[str, typer.Option(help="Generation engine: hf (in-process, CPU or GPU) or vllm (GPU, the vllm extra)")]


def _engine(model: Any, tokenizer: Any, backend: str) -> Any:
    """The rollout engine every inference command samples through; a bad or missing backend exits 2."""
    from cascade.rsa import policy_engine

    try:
        return policy_engine(model, tokenizer, backend)
    except ImportError as exc:
        die(str(exc))


def _check_backend(backend: str) -> None:
    if backend not in ("hf", "vllm"):
        die(f"--backend {backend!r}: choose hf or vllm")
    if backend == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            die("--backend vllm needs the vllm extra: pip install 'zaya-cascade[vllm]' (GPU only)")


def _tasks(dataset: str, limit: int, options: dict[str, Any], seed: int = 0) -> list[Any]:
    from cascade.evaluate import load_tasks
    from envs import UnknownEnvironmentError

    try:
        return load_tasks(dataset, limit, options, seed_start=seed)
    except UnknownEnvironmentError as exc:
        die(str(exc))
    except (ValueError, TypeError, OSError) as exc:
        die(f"--dataset {dataset}: {exc}")


@app.command("rsa")
def rsa_cmd(
    checkpoint: str,
    prompt: Annotated[str | None, typer.Option(help="One problem to solve")] = None,
    dataset: Annotated[str | None, typer.Option(help="An env id, or a problem/answer JSONL (judged as math)")] = None,
    limit: Annotated[int, typer.Option(help="Tasks taken from --dataset")] = 8,
    n: Annotated[int, typer.Option("--n", help="Population size N")] = 16,
    c: Annotated[int, typer.Option("--c", help="Candidates per aggregation prompt C")] = 4,
    t: Annotated[int, typer.Option("--t", help="Rounds T (round 0 included)")] = 2,
    budget: Annotated[int, typer.Option(help="Thinking budget B (max new tokens per rollout)")] = 1024,
    tail: Annotated[int, typer.Option(help="Tail tau: tokens of each rollout kept for aggregation")] = 256,
    seed: int = 0,
    final_aggregate: Annotated[bool, typer.Option(help="One last aggregation instead of the vote")] = False,
    option: OptionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    backend: BackendOpt = "hf",
) -> None:
    """Markovian RSA (report §VI-B) with CHECKPOINT: N rollouts, T rounds of aggregation over C tails, majority vote."""
    from cascade.rsa import RSAConfig, engine_generate_fn, make_tail_fn, run_rsa_many
    from verifiers.pool import LocalVerifierPool

    if (prompt is None) == (dataset is None):
        die("give exactly one of --prompt or --dataset")
    _check_backend(backend)
    try:
        cfg = RSAConfig(n=n, c=c, t=t, budget=budget, tail=tail, seed=seed, final_aggregate=final_aggregate)
    except ValueError as exc:
        die(str(exc))
    tasks = _tasks(dataset, limit, parse_env_options(option)) if dataset is not None else None
    model, tokenizer = _policy(checkpoint)
    generate, tail_fn = engine_generate_fn(_engine(model, tokenizer, backend), tokenizer, seed), make_tail_fn(tokenizer)
    problems = [prompt] if tasks is None else [task.prompt for task in tasks]
    results = [r.to_dict() for r in run_rsa_many(model, tokenizer, problems, cfg, generate, tail_fn=tail_fn)]
    out: dict[str, Any] = {"config": cfg.__dict__, "results": results}
    if tasks is not None:
        verdicts = LocalVerifierPool().verify([(tk.verifier, r["completion"], tk.payload) for tk, r in zip(tasks, results)])
        for r, v in zip(results, verdicts):
            r["correct"], r["reason"] = v.correct, v.reason
        out["accuracy"] = sum(v.correct for v in verdicts) / len(verdicts)
    if as_json:
        print(json.dumps(out if tasks is not None else {"config": cfg.__dict__, **results[0]}, default=str))
        return
    for r in results:
        console.print(f"rounds: {[rd['votes'] for rd in r['rounds']]}" + (f"  correct: {r['correct']}" if "correct" in r else ""))
        print(r["answer"])
    if "accuracy" in out:
        print(f"accuracy: {out['accuracy']:.3f} ({len(results)} tasks)")


@app.command("rsa-rollouts")
def rsa_rollouts(
    checkpoint: str,
    out: Annotated[Path, typer.Option(help="JSONL to write (rollouts_path of rsa/aggregate)")],
    env: Annotated[list[str], typer.Option(help="Env id to draw problems from (repeatable)")],
    n: Annotated[int, typer.Option("--n", help="Rollouts per problem")] = 4,
    num_tasks: Annotated[int, typer.Option(help="Problems per env")] = 8,
    budget: int = 256,
    tail: int = 256,
    seed: int = 0,
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="ENV_ID:key=value (or key=value for every env)")] = None,
    backend: BackendOpt = "hf",
) -> None:
    """Write candidate rollouts of CHECKPOINT for the rsa/aggregate co-training env."""
    from cascade.rsa import make_rollout_file
    from envs import UnknownEnvironmentError, get_env

    options: dict[str, dict[str, Any]] = {e: {} for e in env}
    for item in option or []:
        target, _, rest = item.rpartition(":") if ":" in item.split("=", 1)[0] else ("", "", item)
        for env_id in [target] if target else env:
            if env_id not in options:
                die(f"--option {item!r}: {env_id} is not one of the --env ids")
            options[env_id].update(parse_env_options([rest]))
    for env_id in env:
        try:
            get_env(env_id, **options[env_id])
        except (UnknownEnvironmentError, ValueError, TypeError) as exc:
            die(f"--env {env_id}: {exc}")
    _check_backend(backend)
    _policy(checkpoint)  # validates the path before the (slow) load inside
    path = make_rollout_file(checkpoint, env, n, out, num_tasks, budget, tail, seed, options, backend=backend)
    print(path)


@app.command("eval")
def eval_cmd(
    checkpoint: str,
    suite: Annotated[str, typer.Option(help="Suite name in the suites file")],
    k: Annotated[int, typer.Option("--k", help="k of pass@k")] = 4,
    n_tasks: Annotated[int | None, typer.Option(help="Tasks per environment (default: the suite's)")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Samples per task (>= k; default: the suite's)")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Override the suite's budget")] = None,
    rsa: Annotated[bool, typer.Option("--rsa", help="Also run Markovian RSA per task")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the results JSON here")] = None,
    suites_file: Annotated[Path | None, typer.Option(help="Default: configs/inference/eval_suites.yaml")] = None,
    seed: int = 0,
    backend: BackendOpt = "hf",
) -> None:
    """pass@1 and pass@k (unbiased, from n samples) of CHECKPOINT on a held-out suite; --rsa adds RSA accuracy."""
    from cascade.evaluate import evaluate_suite, load_suite
    from cascade.rsa import engine_generate_fn, make_tail_fn
    from verifiers.pool import LocalVerifierPool

    if k < 1 or (n is not None and n < 1) or (n_tasks is not None and n_tasks < 1):
        die("--k, --n and --n-tasks must be >= 1")
    _check_backend(backend)
    try:
        spec = load_suite(suite, suites_file)
    except (KeyError, ValueError, TypeError, OSError) as exc:
        die(str(exc).strip("'\""))
    model, tokenizer = _policy(checkpoint)
    try:
        result = evaluate_suite(spec, engine_generate_fn(_engine(model, tokenizer, backend), tokenizer, seed), LocalVerifierPool(), k, n_tasks, n, rsa,
                                make_tail_fn(tokenizer), max_new_tokens)
    except ValueError as exc:
        die(str(exc))
    result["checkpoint"] = checkpoint
    metrics = ["pass@1", f"pass@{k}"] + (["rsa"] if rsa else [])
    table = Table(title=f"{suite}: {checkpoint} (n={result['n']})")
    for col in ["env", "tasks", *metrics]:
        table.add_column(col)
    for label, row in result["envs"].items():
        table.add_row(label, str(row["tasks"]), *(f"{row[m]:.3f}" for m in metrics))
    table.add_row("mean", "", *(f"{result['summary'][m]:.3f}" for m in metrics))
    Console().print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str))
        console.print(f"results: {out}")


@app.command("eval-matrix")
def eval_matrix_cmd(
    run_dir: Path,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matrix as one JSON object")] = False,
) -> None:
    """Every stage's eval on every finished stage's checkpoint of RUN_DIR (cached cells are reused)."""
    from cascade.config import ConfigError, load_config
    from cascade.driver import start_ray
    from cascade.eval_matrix import cascade_matrix
    from cascade.manifest import Manifest

    if not (run_dir / "manifest.json").is_file() or not (run_dir / "config.yaml").is_file():
        die(f"{run_dir}: not a run directory (no manifest.json and config.yaml)")
    try:
        cfg = load_config(run_dir / "config.yaml", [f"run_dir={run_dir.resolve()}"])
    except ConfigError as exc:
        die(str(exc))
    if any(s.resources.gpu for s in cfg.stages):  # CPU policies are scored in this process
        start_ray(cfg.ray)
    matrix = cascade_matrix(cfg, Manifest(run_dir), notify=console.print)
    if matrix is None:
        die(f"{run_dir}: no stage of this run has an eval")
    if as_json:
        print(json.dumps(matrix))
        return
    table = Table(title=f"{matrix['metric']}: checkpoint (row) x stage eval (column)")
    table.add_column("checkpoint")
    for suite in matrix["suites"]:
        table.add_column(suite)
    for label in matrix["checkpoints"]:
        table.add_row(label, *(f"{matrix['values'][s][label]:.3f}" for s in matrix["suites"]))
    Console().print(table)
