"""Per-stage evaluation: resolve a stage's eval, draw its held-out tasks, score a checkpoint.

The driver scores each stage's incoming and outgoing checkpoint on the stage's own eval
(``before`` / ``after`` in the manifest) and, at the end, every eval on every checkpoint
(the cascade matrix, ``cascade.eval_matrix``). Results are cached by (eval fingerprint,
checkpoint fingerprint) in ``run_dir/evals.json``, so stage N's "after" is stage N+1's
"before" and a resumed run never scores a checkpoint twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cascade.config import CascadeConfig, ConfigError, RewardSpec, StageConfig
from cascade.eval_config import EvalEnvSpec, EvalSpec
from cascade.evaluate import RMFn, evaluate_tasks
from cascade.manifest import write_json_atomic
from envs import Task, get_env
from envs.curriculum.sampling import select_env_ids
from envs.heldout import HeldOutSplit

CACHE_FILE = "evals.json"
DRAWS_PER_TASK = 50  # a split keeps ~fraction of draws; small files repeat rows across seeds


@dataclass(frozen=True)
class EvalPlan:
    """A stage's resolved evaluation: the spec plus concrete environments, each with its rule."""

    stage: str
    spec: EvalSpec
    envs: tuple[EvalEnvSpec, ...]
    split: HeldOutSplit
    reward_model: dict[str, Any] | None = None  # options of the stage's reward_model reward: also scored by it

    def fingerprint(self) -> str:
        data = {"spec": self.spec.model_dump(mode="json"), "envs": [e.model_dump(mode="json") for e in self.envs],
                "split": [self.split.fraction, self.split.salt]}
        if self.reward_model is not None:  # absent otherwise: evals without one keep their cached results
            data["reward_model"] = self.reward_model
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def run_split(cfg: CascadeConfig) -> HeldOutSplit:
    return HeldOutSplit(cfg.heldout.fraction, cfg.heldout.salt)


def training_split(cfg: CascadeConfig) -> HeldOutSplit | None:
    """The split every training stream of the run rejects: on as soon as one eval uses it."""
    plans = [p for p in (resolve_eval(cfg, s) for s in cfg.stages) if p is not None]
    uses_split = any(e.heldout == "split" for p in plans for e in p.envs)
    return run_split(cfg) if uses_split else None


def _spec(cfg: CascadeConfig, stage: StageConfig) -> EvalSpec | None:
    from stages import get_stage_kind

    if isinstance(stage.eval, EvalSpec):
        spec = stage.eval
    elif isinstance(stage.eval, str):
        spec = cfg.evals[stage.eval]
    else:
        default = get_stage_kind(stage.kind).eval
        spec = EvalSpec(**default) if default is not None else None
    return spec if spec is not None and spec.enabled else None


def _train_env_ids(cfg: CascadeConfig, stage: StageConfig) -> tuple[list[Any], list[str]]:
    """The stage's training env specs (curriculum held-out ids removed) and those held-out ids."""
    from cascade.config import EnvSpec
    from cascade.task_stream import expand_env_specs
    from stages import get_stage_kind

    kind = get_stage_kind(stage.kind)
    specs = expand_env_specs(stage.envs if stage.envs is not None else [EnvSpec(**e) for e in kind.envs])
    held_globs = getattr(stage.curriculum.options, "held_out", None) if stage.curriculum else None
    if not held_globs:
        return specs, []
    train, held = select_env_ids([s.id for s in specs], held_out=held_globs)
    return [s for s in specs if s.id in train], held


def resolve_eval(cfg: CascadeConfig, stage: StageConfig) -> EvalPlan | None:
    """The stage's EvalPlan, or None when it has no (enabled) eval."""
    spec = _spec(cfg, stage)
    if spec is None:
        return None
    envs: list[EvalEnvSpec] = []
    if spec.train_envs:
        specs, held = _train_env_ids(cfg, stage)
        specs = sorted(specs, key=lambda s: zlib.crc32(s.id.encode()))[: spec.max_envs]
        for s in sorted(specs, key=lambda s: s.id):
            for level in spec.difficulties if spec.difficulties is not None else [s.difficulty]:
                envs.append(EvalEnvSpec(id=s.id, options=s.options, difficulty=level, heldout=spec.heldout))
        for env_id in held:
            for level in spec.difficulties or [0]:
                envs.append(EvalEnvSpec(id=env_id, difficulty=level, heldout="unseen_env"))
    envs += [e if e.heldout is not None else e.model_copy(update={"heldout": spec.heldout}) for e in spec.envs]
    if not envs:
        raise ConfigError(f"stage {stage.name!r}: its eval lists no environments (set train_envs: true or envs)")
    return EvalPlan(stage.name, spec, tuple(envs), run_split(cfg), _reward_model_options(stage))


def _reward_model_options(stage: StageConfig) -> dict[str, Any] | None:
    """The options of the stage's (first) ``reward_model`` reward: what trains it judges its eval too."""
    from stages import get_stage_kind

    specs = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in get_stage_kind(stage.kind).rewards]
    return next((dict(r.options) for r in specs if r.name == "reward_model"), None)


def check_evals(cfg: CascadeConfig, source: str) -> None:
    """Load-time checks: an ``unseen_env`` eval env really is unseen by the stage's training."""
    for i, stage in enumerate(cfg.stages):
        plan = resolve_eval(cfg, stage)
        if plan is None:
            continue
        trained = {s.id for s in _train_env_ids(cfg, stage)[0]}
        for e in plan.envs:
            if e.heldout == "unseen_env" and e.id in trained:
                raise ConfigError(f"{source}: stages[{i}].eval: {e.id} is held out as unseen_env but the stage trains on it")


_TASKS: dict[str, dict[str, list[Task]]] = {}  # per process: every checkpoint of a run sees the same tasks


def eval_tasks(plan: EvalPlan) -> dict[str, list[Task]]:
    """Held-out tasks per ``env@difficulty``: distinct prompts, drawn from ``seed_start`` on (memoised)."""
    if plan.fingerprint() not in _TASKS:
        _TASKS[plan.fingerprint()] = _draw_eval_tasks(plan)
    return _TASKS[plan.fingerprint()]


def _draw_eval_tasks(plan: EvalPlan) -> dict[str, list[Task]]:
    out: dict[str, list[Task]] = {}
    for e in plan.envs:
        env = get_env(e.id, **e.options)
        tasks: dict[str, Task] = {}
        for seed in range(plan.spec.seed_start, plan.spec.seed_start + DRAWS_PER_TASK * plan.spec.n_tasks):
            if len(tasks) == plan.spec.n_tasks:
                break
            try:
                task = env.sample(seed=seed, difficulty=e.difficulty)
            except Exception:  # noqa: BLE001 - a failing draw is skipped, as in training; none at all is an error below
                continue
            if e.heldout == "split" and not plan.split.is_heldout(task):
                continue
            tasks.setdefault(json.dumps(task.prompt, sort_keys=True), task)
        if not tasks:
            raise ValueError(f"eval of stage {plan.stage!r}: {e.id}@{e.difficulty} gave no held-out task")
        out[f"{e.id}@{e.difficulty}"] = list(tasks.values())
    return out


def score(plan: EvalPlan, generate_fn: Any, pool: Any, rm: RMFn | None = None) -> dict[str, Any]:
    """pass@1 / pass@k of one policy (behind ``generate_fn``) on the plan's tasks; ``rm_score`` with ``rm``."""
    spec = plan.spec
    rows = {label: evaluate_tasks(tasks, generate_fn, pool, spec.n_samples, spec.k, spec.max_new_tokens, rm=rm)
            for label, tasks in eval_tasks(plan).items()}
    metrics = ["pass@1"] + ([f"pass@{spec.k}"] if spec.k > 1 else []) + (["rm_score"] if rm is not None else [])
    summary = {m: sum(r[m] for r in rows.values()) / len(rows) for m in metrics}
    envs = {label: {"tasks": r["tasks"], **{m: r[m] for m in metrics}} for label, r in rows.items()}
    return {"summary": summary, "envs": envs}


# ---------------------------------------------------------------- checkpoints and the cache


def checkpoint_fingerprint(cfg: CascadeConfig, checkpoint: str | None) -> str:
    """Same weights, same fingerprint: file names, sizes and mtimes of the weights (or the initial policy)."""
    if checkpoint is None:
        policy = cfg.policy.model_dump(mode="json")
        return "initial:" + hashlib.sha256(json.dumps([policy, cfg.seed], sort_keys=True).encode()).hexdigest()[:16]
    files = sorted(Path(checkpoint).glob("*.safetensors")) or sorted(Path(checkpoint).glob("*.bin"))
    stat = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(json.dumps([str(checkpoint), stat]).encode()).hexdigest()[:16]


class EvalCache:
    """``run_dir/evals.json``: {eval fingerprint: {checkpoint fingerprint: result}}, written atomically."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / CACHE_FILE
        self.data: dict[str, dict[str, Any]] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, plan: EvalPlan, ckpt_fp: str) -> dict[str, Any] | None:
        return self.data.get(plan.fingerprint(), {}).get(ckpt_fp)

    def put(self, plan: EvalPlan, ckpt_fp: str, result: dict[str, Any]) -> None:
        self.data.setdefault(plan.fingerprint(), {})[ckpt_fp] = result
        write_json_atomic(self.path, self.data)


def eval_backend(cfg: CascadeConfig) -> str:
    """``vllm`` when the run's stages sample on vLLM (a GPU config), else ``hf``: evals sample on the
    engine training samples on, so before/after numbers and rollouts come from the same sampler."""
    return "vllm" if any(s.generation.backend == "vllm" for s in cfg.stages) else "hf"


def evaluate_checkpoint(cfg: CascadeConfig, checkpoint: str | None, plans: list[EvalPlan]) -> dict[str, dict[str, Any]]:
    """Load one policy and score it on each plan (in this process); {stage: result}."""
    import torch

    from cascade.policy import load_policy
    from cascade.rm_reward import eval_rm_scorer
    from cascade.rsa import engine_generate_fn, policy_engine
    from verifiers.pool import LocalVerifierPool

    policy = cfg.policy.model_copy(update={"lora": cfg.policy.lora.model_copy(update={"enabled": False})})
    model, tokenizer = load_policy(policy, checkpoint, seed=cfg.seed)
    if torch.cuda.is_available():
        model = model.to("cuda")
    pool = LocalVerifierPool()
    engine = policy_engine(model, tokenizer, eval_backend(cfg))  # the project's one generation path
    out = {}
    for plan in plans:
        generate = engine_generate_fn(engine, tokenizer, seed=cfg.seed, temperature=plan.spec.temperature)
        rm = eval_rm_scorer(plan.reward_model) if plan.reward_model is not None else None
        out[plan.stage] = score(plan, generate, pool, rm)
    pool.close()
    return out
