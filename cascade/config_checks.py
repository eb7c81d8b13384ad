"""Load-time checks of every name and option in a config, before anything starts.

Each check yields ``(key.path, problem)``; ``cascade.config.check_semantics`` turns the
first into ``file: key.path: problem`` (CLI exit 2). What is checked, per stage: env ids
(and that each glob matches), env options against the environment's constructor, reward
names and options, verifier options against each verifier's constructor, the curriculum's
environment selection and calibration, and that the stage ends up with environments.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from cascade.config import CascadeConfig, StageConfig
from cascade.curriculum_config import RLVECurriculum, ZayaCurriculum

Problem = tuple[str, str]


def _near(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def env_ids(pattern: str) -> list[str]:
    """The registered ids a stage's env id stands for: itself, or every id its glob matches."""
    from envs.base import match_env_ids

    return match_env_ids(pattern)


def check_env(env_id: str, options: dict[str, Any]) -> list[Problem]:
    """``("", problem)`` for an unknown id, ``("options.KEY", problem)`` for a bad option."""
    from envs.base import ENVS, PROVIDERS, provider_for
    from envs.registry import check_options

    if env_id in ENVS:
        entry = ENVS.get(env_id)
        problems = check_options(entry.factory, options, options_from=entry.options_from)
        hook = getattr(entry.factory, "check_options", None)
        if callable(hook) and not problems:
            problems = hook(options)
    else:
        found = provider_for(env_id)
        family = [i.env_id for i in found[0].list_infos()] if found is not None else []
        if env_id not in family:
            # suggest among the plain ids and this id's own family (listing rlve-gym imports torch)
            known = ENVS.names() + family + PROVIDERS.names()
            return [("", f"unknown environment {env_id!r}{_near(env_id, known)} (see `cascade envs list`)")]
        problems = check_options(found[0].make, options, skip=1)
    return [(f"options.{key}", msg) for key, msg in problems]


def check_verifier(name: str, options: dict[str, Any]) -> list[Problem]:
    from envs.registry import check_options
    from verifiers import VERIFIERS, verifier_class

    if name not in VERIFIERS:
        return [("", f"unknown verifier {name!r}{_near(name, VERIFIERS.names())} (known: {', '.join(VERIFIERS.names())})")]
    return check_options(verifier_class(name), options)


def check_reward(name: str, options: dict[str, Any]) -> list[Problem]:
    from cascade.rewards import REWARDS
    from verifiers import VERIFIERS

    if name == "task":
        if options:
            return [("options", "the task reward takes no options; verifier options go in `verifiers:` (top level or the stage's)")]
        return []
    if name == "reward_model":
        from cascade.rm_reward import check_options

        return [(f"options.{k}", m) for k, m in check_options(options)]
    if name in REWARDS or name in VERIFIERS:
        return [(f"options.{k}" if k else "options", m) for k, m in check_verifier(name, options)]
    known = [*REWARDS.names(), *VERIFIERS.names()]
    return [("name", f"unknown reward {name!r}{_near(name, known)} (rewards: {', '.join(REWARDS.names())}; "
                     f"or a verifier: {', '.join(VERIFIERS.names())})")]


def _stage_envs(stage: StageConfig, kind: Any, loc: str) -> Iterator[tuple[str, Any]]:
    """(loc, spec) of the stage's envs, or its kind's defaults."""
    from cascade.config import EnvSpec

    if stage.envs is not None:
        for j, env in enumerate(stage.envs):
            yield f"{loc}.envs[{j}]", env
    else:
        for j, env in enumerate(kind.envs):
            yield f"{loc}.kind({stage.kind}).envs[{j}]", EnvSpec(**env)


def check_stage(cfg: CascadeConfig, i: int, stage: StageConfig) -> Iterator[Problem]:
    from stages import get_stage_kind

    kind = get_stage_kind(stage.kind)
    loc = f"stages[{i}]"
    resolved: list[str] = []
    env_problem = False
    for env_loc, env in _stage_envs(stage, kind, loc):
        ids = env_ids(env.id)
        if not ids:
            env_problem = True
            yield f"{env_loc}.id", f"env pattern {env.id!r} matches no registered environment (see `cascade envs list`)"
            continue
        checked: set[int] = set()
        for env_id in ids:  # a glob's ids share options: check once per distinct constructor
            problems = check_env(env_id, env.options)
            key = hash(tuple(problems))
            if key in checked:
                continue
            checked.add(key)
            for sub, msg in problems:
                env_problem = True
                yield (f"{env_loc}.{sub}" if sub else f"{env_loc}.id"), msg
        resolved += ids
    if not resolved and not env_problem:
        yield f"{loc}.envs", "the stage has no environments"
    yield from _check_curriculum(stage, kind, loc, resolved)
    if stage.rsa is not None and not env_problem:
        yield from _check_rsa_refresh(stage, kind, loc, resolved)
    for name, options in stage.verifiers.items():
        for sub, msg in check_verifier(name, options):
            yield (f"{loc}.verifiers.{name}.{sub}" if sub else f"{loc}.verifiers.{name}"), msg
    if kind.trainer == "sft":
        if stage.rewards:
            yield f"{loc}.rewards", "an sft stage trains on reference completions and uses no rewards"
        return
    from cascade.config import RewardSpec

    rewards = stage.rewards if stage.rewards is not None else [RewardSpec(**r) for r in kind.rewards]
    if not rewards:
        yield f"{loc}.rewards", "a grpo stage needs at least one reward"
    merged = cfg.verifier_options(stage)
    for k, reward in enumerate(rewards):
        for sub, msg in check_reward(reward.name, reward.options):
            yield f"{loc}.rewards[{k}].{sub}", msg
        for key, value in reward.options.items():
            if reward.name in merged and key in merged[reward.name] and merged[reward.name][key] != value:
                yield (f"{loc}.rewards[{k}].options.{key}",
                       f"conflicts with verifiers.{reward.name}.{key}={merged[reward.name][key]!r}; set it once")


def _check_rsa_refresh(stage: StageConfig, kind: Any, loc: str, env_ids_: list[str]) -> Iterator[Problem]:
    """An ``rsa:`` block must have an ``rsa/aggregate`` env to feed, problems to draw and a grpo trainer."""
    rsa = stage.rsa
    if kind.trainer != "grpo":
        yield f"{loc}.rsa", f"on-policy RSA refresh needs a grpo stage (labels come from its verifier pool); {stage.kind} is {kind.trainer}"
        return
    if "rsa/aggregate" not in env_ids_:
        yield f"{loc}.rsa", "refresh is configured but the stage has no rsa/aggregate env to feed"
        return
    for env_loc, env in _stage_envs(stage, kind, loc):
        for key in ("rollouts_path", "c"):
            if env.id == "rsa/aggregate" and key in env.options:
                yield f"{env_loc}.options.{key}", f"set by {loc}.rsa (the refreshed file, rsa.c); remove it here"
    for k, env_id in enumerate(rsa.envs or []):
        if env_id == "rsa/aggregate" or env_id not in env_ids_:
            yield f"{loc}.rsa.envs[{k}]", f"{env_id!r} is not one of the stage's base envs ({', '.join(e for e in env_ids_ if e != 'rsa/aggregate')})"
    if rsa.envs is not None and not rsa.envs or rsa.envs is None and set(env_ids_) == {"rsa/aggregate"}:
        yield f"{loc}.rsa.envs", "no base env to draw problems from"
    workers = stage.resources.num_workers
    if not stage.generation.has_engines and rsa.num_problems % workers:  # with engines rank 0 samples them all
        yield f"{loc}.rsa.num_problems", f"{rsa.num_problems} does not split evenly over {workers} workers (ranks sample in lockstep)"


def _check_curriculum(stage: StageConfig, kind: Any, loc: str, env_ids_: list[str]) -> Iterator[Problem]:
    from cascade.curricula import curriculum_spec

    spec = curriculum_spec(stage, kind)
    if not isinstance(spec, (RLVECurriculum, ZayaCurriculum)) or not env_ids_:
        return
    from envs.curriculum import select_env_ids

    opts = spec.options
    try:
        select_env_ids(env_ids_, opts.include, opts.exclude, opts.held_out)
    except ValueError as exc:
        yield f"{loc}.curriculum.options", str(exc)
    if spec.calibrate is not None and kind.trainer == "sft":
        yield f"{loc}.curriculum.calibrate", "calibration measures pass rates with a verifier pool; an sft stage has none"
    for env_loc, env in _stage_envs(stage, kind, loc):
        if env.difficulty != 0:  # the controller picks every draw's difficulty: a fixed one would be ignored
            yield (f"{env_loc}.difficulty", f"the {spec.kind} curriculum sets difficulties; use "
                   f"{loc}.curriculum.options.initial_difficulty or bounds")


def config_problems(cfg: CascadeConfig) -> Iterator[Problem]:
    """Every name/option problem of ``cfg``, in file order."""
    for name, options in cfg.verifiers.items():
        for sub, msg in check_verifier(name, options):
            yield (f"verifiers.{name}.{sub}" if sub else f"verifiers.{name}"), msg
    for i, stage in enumerate(cfg.stages):
        yield from check_stage(cfg, i, stage)
