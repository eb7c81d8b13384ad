"""The cascade YAML schema (pydantic) and its loader.

Every mistake in a config file is reported as ``file: key.path: problem`` and the CLI
exits with status 2 before anything runs. Trainer sections pass through to TRL's config
dataclasses; their keys and value types are checked against those dataclasses here, so a
typo in ``learning_rate`` fails at load time rather than an hour into a run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cascade.eval_config import EvalSpec, HeldOutSettings
from cascade.curriculum_config import CurriculumSpec


class ConfigError(ValueError):
    """A config problem, already phrased as ``file: key.path: problem``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyPolicy(_Strict):
    """Shape of the tiny CI ZAYA (a few hundred thousand parameters)."""

    vocab_size: int = 1024
    hidden_size: int = 64
    num_hidden_layers: int = Field(2, ge=2)
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    head_dim: int = 32
    moe_intermediate_size: int = 64
    num_experts: int = Field(4, ge=4)
    router_hidden_size: int = 16
    max_position_embeddings: int = 1024


class LoraSettings(_Strict):
    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"


class PolicyConfig(_Strict):
    """``name_or_path: tiny`` builds the tiny ZAYA offline; anything else is a local path or hub id."""

    name_or_path: str = "tiny"
    tiny: TinyPolicy = TinyPolicy()
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    trust_remote_code: bool = False
    lora: LoraSettings = LoraSettings()


class RaySettings(_Strict):
    """``address: null`` starts an embedded local cluster; otherwise join (``RAY_ADDRESS`` also works)."""

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    include_dashboard: bool = False
    log_to_driver: bool = True
    verifier_workers: int = Field(2, ge=1)
    verifier_timeout_s: float = Field(30.0, gt=0)
    generator_workers: int = Field(1, ge=1)
    generator_timeout_s: float = Field(20.0, gt=0)
    # CPUs Ray reserves for each pool actor; pools are started by every training worker
    # (so a stage holds num_workers x verifier_workers verifier actors). 0 = unreserved.
    verifier_cpus: float = Field(0.0, ge=0)
    generator_cpus: float = Field(0.0, ge=0)


class Resources(_Strict):
    """What one stage job asks Ray for: ``num_workers`` Ray Train workers, each with a share.

    ``num_cpus`` / ``num_gpus`` keep their old meaning, the stage's *total*; they are split
    evenly over the workers. ``cpus_per_worker`` / ``gpus_per_worker`` say the same thing per
    worker; give one or the other, not both. ``use_gpu`` (default: whether any GPU is asked
    for) makes each worker a GPU worker (NCCL); ``use_gpu: true`` alone means one GPU each.
    """

    num_workers: int = Field(1, ge=1)
    use_gpu: bool | None = None
    cpus_per_worker: float | None = Field(None, gt=0)
    gpus_per_worker: float | None = Field(None, ge=0)
    num_cpus: float | None = Field(None, gt=0)
    num_gpus: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_way_to_say_it(self) -> "Resources":
        for total, each in (("num_cpus", "cpus_per_worker"), ("num_gpus", "gpus_per_worker")):
            if getattr(self, total) is not None and getattr(self, each) is not None:
                raise ValueError(f"give {total} (stage total) or {each}, not both")
        if self.use_gpu is False and self.worker_gpus > 0:
            raise ValueError("use_gpu is false but GPUs are requested")
        if self.use_gpu and self.num_gpus == 0 or self.use_gpu and self.gpus_per_worker == 0:
            raise ValueError("use_gpu is true but 0 GPUs are requested")
        return self

    @property
    def worker_cpus(self) -> float:
        if self.cpus_per_worker is not None:
            return self.cpus_per_worker
        return (self.num_cpus / self.num_workers) if self.num_cpus is not None else 1.0

    @property
    def worker_gpus(self) -> float:
        if self.gpus_per_worker is not None:
            return self.gpus_per_worker
        if self.num_gpus is not None:
            return self.num_gpus / self.num_workers
        return 1.0 if self.use_gpu else 0.0

    @property
    def gpu(self) -> bool:
        """Whether the stage's workers train on GPUs (NCCL) rather than CPUs (gloo)."""
        return self.worker_gpus > 0


class EnvSpec(_Strict):
    """One prompt source: an env id, its sampling weight and constructor options."""

    id: str
    weight: float = Field(1.0, gt=0)
    difficulty: int = 0
    options: dict[str, Any] = {}


class RewardSpec(_Strict):
    """A reward function. ``task`` scores each completion with the verifier its Task names.

    Any other name is a registered reward (``reward_model``) or a verifier applied to every
    completion. Options of a verifier reward are that verifier's options (see ``verifiers:``).
    """

    name: str = "task"
    weight: float = 1.0
    options: dict[str, Any] = {}


# Per-verifier constructor options by verifier name (``math: {timeout_s: 3}``); a stage's
# ``verifiers:`` wins key by key over the top level. Checked against each verifier's signature.
VerifierOptions = dict[str, dict[str, Any]]


class PassRateFilter(_Strict):
    """Report §VII-D: keep prompts whose pass rate under the incoming policy is in [min, max]."""

    enabled: bool = False
    num_prompts: int = Field(32, ge=1)
    num_generations: int = Field(4, ge=1)
    min_pass: float = Field(0.0, ge=0, le=1)
    max_pass: float = Field(0.75, ge=0, le=1)
    max_new_tokens: int = 64


class GenerationSettings(_Strict):
    """Where rollouts come from (cascade/generation). ``trainer``: TRL generates in-process (today's path).

    ``hf`` / ``vllm``: ``workers`` engine actors sample apart from training; a rollout is used at most
    ``max_staleness`` weight versions old (0 = synchronous on-policy); weights reach the engines every
    ``sync_every`` optimizer steps; ``buffer_size`` groups may be generated ahead (default
    ``max_staleness`` steps' worth); ``verify_in_pipeline`` scores finished groups with the verifier
    pool before they enter the buffer (the ``task`` reward then reads those verdicts).
    """

    backend: Literal["trainer", "hf", "vllm"] = "trainer"
    workers: int = Field(1, ge=1)
    max_staleness: int = Field(0, ge=0)
    sync_every: int = Field(1, ge=1)
    buffer_size: int | None = Field(None, ge=1)
    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0)
    max_batch: int | None = Field(None, ge=1)
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    verify_in_pipeline: bool = False  # score finished groups while the trainer trains (needs max_staleness > 0)

    @property
    def has_engines(self) -> bool:
        """Whether the stage samples through engine actors (rank 0's), not inside the trainer."""
        return self.backend != "trainer"

    @model_validator(mode="after")
    def _consistent(self) -> "GenerationSettings":
        if self.backend == "trainer":  # compared with the defaults, so a dumped config re-validates
            fields = type(self).model_fields
            changed = sorted(k for k in fields if k != "backend" and getattr(self, k) != fields[k].default)
            if changed:
                raise ValueError(f"backend 'trainer' generates in-process; {', '.join(changed)} would have no effect")
        if self.sync_every > self.max_staleness + 1:
            raise ValueError(f"sync_every {self.sync_every} leaves engines more than max_staleness {self.max_staleness} "
                             "versions behind: every rollout would be dropped (need sync_every <= max_staleness + 1)")
        if self.verify_in_pipeline and self.max_staleness == 0:
            raise ValueError("verify_in_pipeline needs max_staleness > 0: on the synchronous path nothing overlaps")
        if self.backend != "vllm" and self.tensor_parallel_size != 1:
            raise ValueError("tensor_parallel_size applies to the vllm backend only")
        return self


class RSARefresh(_Strict):
    """On-policy RSA co-training (``cascade/rsa_refresh.py``): the stage's ``rsa/aggregate`` prompts take
    their candidates from the current policy, resampled every ``refresh_every`` optimizer steps.

    ``num_problems`` base problems are drawn from ``envs`` (stage env ids; default: every env but
    ``rsa/aggregate``), ``n`` rollouts of up to ``budget`` tokens each (the population), the last
    ``tau`` tokens of each kept; every aggregation prompt shows ``c`` of them (``c <= n``).
    """

    refresh_every: int = Field(ge=1)
    n: int = Field(16, ge=1)
    c: int = Field(4, ge=1)
    tau: int = Field(256, ge=1)
    budget: int = Field(1024, ge=1)
    num_problems: int = Field(8, ge=1)
    temperature: float = Field(1.0, gt=0)
    envs: list[str] | None = None

    @model_validator(mode="after")
    def _c_within_population(self) -> "RSARefresh":
        if self.c > self.n:
            raise ValueError(f"c {self.c} > n {self.n}: every aggregation prompt would repeat a candidate")
        return self


class StageConfig(_Strict):
    """One stage: its kind picks defaults from ``stages/``; every field here overrides them."""

    name: str
    kind: str
    envs: list[EnvSpec] | None = None
    rewards: list[RewardSpec] | None = None
    curriculum: CurriculumSpec | None = None
    verifiers: VerifierOptions = {}
    filter: PassRateFilter = PassRateFilter()
    generation: GenerationSettings = GenerationSettings()
    rsa: RSARefresh | None = None  # on-policy rsa/aggregate candidates (cascade/rsa_refresh.py)
    trainer: dict[str, Any] = {}
    resources: Resources = Resources()
    num_tasks: int = Field(512, ge=1)
    eval: EvalSpec | str | None = None  # inline, a name in the top-level `evals`, or the kind's default
    # A finished stage keeps only ``final``; true keeps its trainer checkpoints (with optimizer state).
    keep_checkpoints: bool | None = None

    @field_validator("name")
    @classmethod
    def _name_is_a_dir_name(cls, v: str) -> str:
        if not v or "/" in v or v.startswith("."):
            raise ValueError("must be a plain directory name")
        return v

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        from stages import STAGE_KINDS

        if v not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {v!r} (known: {', '.join(sorted(STAGE_KINDS))})")
        return v


class CascadeConfig(_Strict):
    run_dir: str
    seed: int = 0
    ray: RaySettings = RaySettings()
    policy: PolicyConfig = PolicyConfig()
    trainer: dict[str, Any] = {}
    verifiers: VerifierOptions = {}
    # Default for stages that do not set ``keep_checkpoints``.
    keep_checkpoints: bool = False
    stages: list[StageConfig] = Field(min_length=1)
    evals: dict[str, EvalSpec] = {}  # named evaluations stages refer to with `eval: NAME`
    heldout: HeldOutSettings = HeldOutSettings()  # the split no training stream draws from
    eval_matrix: bool = True  # at the end, every stage's eval on every stage's output checkpoint

    @model_validator(mode="after")
    def _unique_stage_names(self) -> "CascadeConfig":
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        for stage in self.stages:
            if isinstance(stage.eval, str) and stage.eval not in self.evals:
                known = ", ".join(sorted(self.evals)) or "none defined"
                raise ValueError(f"stage {stage.name!r}: eval {stage.eval!r} is not in `evals` ({known})")
        return self

    def verifier_options(self, stage: StageConfig) -> VerifierOptions:
        """The options each verifier is built with in ``stage``: top level, then the stage's."""
        names = {*self.verifiers, *stage.verifiers}
        return {n: {**self.verifiers.get(n, {}), **stage.verifiers.get(n, {})} for n in sorted(names)}

    def stage(self, name: str) -> StageConfig:
        for s in self.stages:
            if s.name == name:
                return s
        raise ConfigError(f"no stage named {name!r} (stages: {', '.join(s.name for s in self.stages)})")


# ---------------------------------------------------------------- loading


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for n, part in enumerate(loc):
        if n and loc[n - 1] == "curriculum" and part in ("fixed", "rlve", "zaya"):
            continue  # the union's tag, not a key of the file
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides; values are parsed as YAML (``3``, ``true``, ``[a, b]``).

    A numeric path part indexes a list, and a stage may be named instead of indexed:
    ``stages.sft.trainer.max_steps=2``.
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key.path=value")
        path, raw = item.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"--set {item!r}: empty key path")
        node: Any = data
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                idx = _list_index(node, key, item)
                if last:
                    node[idx] = yaml.safe_load(raw)
                else:
                    node = node[idx]
            elif isinstance(node, dict):
                if last:
                    node[key] = yaml.safe_load(raw)
                else:
                    node = node.setdefault(key, {})
            else:
                raise ConfigError(f"--set {item!r}: {'.'.join(keys[:i])} is not a mapping or list")
    return data


def _list_index(node: list[Any], key: str, item: str) -> int:
    if key.isdigit() and int(key) < len(node):
        return int(key)
    for j, entry in enumerate(node):
        if isinstance(entry, dict) and entry.get("name") == key:
            return j
    raise ConfigError(f"--set {item!r}: no list entry {key!r}")


def resolve_config_path(path: str | Path) -> Path:
    """A config file, or the name of a shipped one (``tiny``, ``zaya1-8b``, ...: ``cascade run tiny``)."""
    from envs.shipped import builtin_configs, config_file

    path = Path(path)
    if not path.is_file() and path.suffix == "" and str(path) in builtin_configs():
        return config_file(f"{path}.yaml")
    return path


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative input paths in a config file are relative to that file's directory.

    That is: env option keys ending in ``path`` (in stages and evals), and a reward's or the
    policy's local path when it exists there. ``run_dir`` (an output) and ``--set`` values stay
    relative to the working directory.
    """
    def fix(value: Any, must_exist: bool) -> Any:
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            return value
        candidate = (base / value).resolve()
        return str(candidate) if not must_exist or candidate.exists() else value

    def envs_of(section: Any) -> list[Any]:
        return [e for e in (section or []) if isinstance(e, dict) and isinstance(e.get("options"), dict)]

    stages = [s for s in data.get("stages") or [] if isinstance(s, dict)]
    evals = [e for e in [s.get("eval") for s in stages] + list((data.get("evals") or {}).values()) if isinstance(e, dict)]
    for env in [e for s in stages for e in envs_of(s.get("envs"))] + [e for ev in evals for e in envs_of(ev.get("envs"))]:
        env["options"] = {k: fix(v, False) if k.endswith("path") else v for k, v in env["options"].items()}
    for stage in stages:
        for reward in [r for r in stage.get("rewards") or [] if isinstance(r, dict)]:
            if isinstance(reward.get("options"), dict) and "path" in reward["options"]:
                reward["options"]["path"] = fix(reward["options"]["path"], True)
    policy = data.get("policy")
    if isinstance(policy, dict) and policy.get("name_or_path") not in (None, "tiny"):
        policy["name_or_path"] = fix(policy["name_or_path"], True)
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> CascadeConfig:
    """Read, override, validate and check a cascade YAML; raise ConfigError naming file and key.

    ``path`` may name a shipped config (``tiny``). Relative input paths in the file resolve
    against its directory (see ``_resolve_paths``); ``--set`` values against the working directory.
    """
    path = resolve_config_path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: <root>: expected a mapping, got {type(data).__name__}")
    data = _resolve_paths(data, path.resolve().parent)
    try:
        data = apply_overrides(data, overrides or [])
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        cfg = CascadeConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{path}: {_format_loc(err['loc'])}: {err['msg']}{more}") from None
    check_semantics(cfg, str(path))
    from cascade.stage_eval import check_evals

    check_evals(cfg, str(path))
    return cfg


def check_semantics(cfg: CascadeConfig, source: str) -> None:
    """Checks pydantic cannot express: trainer keys, env ids, verifier names, local files."""
    from stages import get_stage_kind

    def fail(loc: str, msg: str) -> None:
        raise ConfigError(f"{source}: {loc}: {msg}")

    check_names(cfg, source)  # first: it needs no trainer library (torch, TRL), so most typos come back fast
    from cascade.trainer_config import check_trainer_section

    for key, msg in check_trainer_section(cfg.trainer, kind=None):
        fail(f"trainer.{key}", msg)
    for i, stage in enumerate(cfg.stages):
        kind = get_stage_kind(stage.kind)
        for key, msg in check_trainer_section(stage.trainer, kind=kind.trainer):
            fail(f"stages[{i}].trainer.{key}", msg)
        for j, env in enumerate(stage.envs or []):
            for key, value in env.options.items():
                if key.endswith("path") and isinstance(value, str) and not Path(value).exists():
                    fail(f"stages[{i}].envs[{j}].options.{key}", f"no such file: {value}")
    check_recipe_switches(cfg, source)
    policy = cfg.policy.name_or_path
    if policy != "tiny" and (policy.startswith((".", "/")) and not Path(policy).exists()):
        fail("policy.name_or_path", f"no such path: {policy}")


def check_names(cfg: CascadeConfig, source: str) -> None:
    """Env ids, globs, options, rewards, verifiers and curricula (``cascade.config_checks``)."""
    from cascade.config_checks import config_problems

    problems = list(config_problems(cfg))
    if problems:
        loc, msg = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {loc}: {msg}{more}")


def check_recipe_switches(cfg: CascadeConfig, source: str) -> None:
    """No silent switches: a recipe switch a stage asks for that cannot apply there fails the load."""
    from cascade.recipe.stage_recipe import check_stage_recipes

    for loc, msg in check_stage_recipes(cfg):
        raise ConfigError(f"{source}: {loc}: {msg}")


def dump_config(cfg: CascadeConfig) -> str:
    """The resolved config as YAML, as written into the run dir."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
