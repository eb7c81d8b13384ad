"""On-policy RSA co-training: ``rsa/aggregate`` candidates sampled from the policy being trained.

A stage's ``rsa:`` block (``cascade.config.RSARefresh``) switches it on::

    rsa: {refresh_every: 8, n: 16, c: 4, tau: 256, budget: 1024, num_problems: 8, envs: [data/math]}

At stage start (before the pass-rate filter draws anything) and then every ``refresh_every``
optimizer steps, ``num_problems`` base problems are drawn from ``envs`` (the stage's own envs, at
their configured difficulty, never from the held-out split), the current policy samples ``n``
rollouts of each through the in-process ``hf`` engine over the trainer's own weights (the same
engine contract every generation path uses; its weights are the trainer's, so nothing needs
syncing), each rollout keeps its last ``tau`` tokens, and the verifier pool labels it ``correct``.
The last step writes nothing (no batch would see it).
Rank 0 writes ``<stage>/rsa_rollouts.jsonl`` atomically (tmp + ``os.replace``); each row carries
``version`` (refreshes so far: ``global_step // refresh_every``) and ``step``. ``rsa/aggregate``
reloads the file whenever it changes, in this process and in generator-pool actors alike.

With N training workers every rank samples its share of the problems in lockstep (an FSDP-sharded
model's ``generate`` syncs ranks itself), rank 0 gathers and writes. On a stage with rollout engines
(``generation.backend`` hf or vllm) the candidates come from the stage's engine actors instead, all
sampled by rank 0 (which owns them): their weights are at most ``sync_every`` steps behind the
trainer's, and a refresh queues behind the rollouts already requested of them. A resumed stage rewrites the
file from the resumed weights when training begins (until then, e.g. for the pass-rate filter, it keeps the
file its last refresh wrote). ``rsa/refresh_version`` and
``rsa/candidates_correct`` (mean correctness of the latest candidates) go to ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from cascade.config import EnvSpec, RSARefresh, StageConfig
from cascade.distributed import barrier, is_main, world_size
from cascade.generation.actors import owner_share

log = logging.getLogger(__name__)
ROLLOUTS_FILE = "rsa_rollouts.jsonl"
RSA_ENV = "rsa/aggregate"
_DRAW_TRIES = 20


def refreshed_specs(stage: StageConfig, specs: list[EnvSpec], stage_path: Path) -> list[EnvSpec]:
    """The stage's env specs with ``rsa/aggregate`` pointed at the refreshed file (``c`` from ``rsa:``)."""
    if stage.rsa is None:
        return specs
    options = {"rollouts_path": str(stage_path / ROLLOUTS_FILE), "c": stage.rsa.c}
    return [s.model_copy(update={"options": {**s.options, **options}}) if s.id == RSA_ENV else s for s in specs]


def base_env_ids(settings: RSARefresh, specs: list[EnvSpec]) -> list[str]:
    """Where the base problems come from: ``rsa.envs``, else every stage env but ``rsa/aggregate``."""
    return list(settings.envs) if settings.envs is not None else [s.id for s in specs if s.id != RSA_ENV]


def refresh_engine(model: Any, tokenizer: Any) -> Any:
    """The engine candidates are sampled with: the in-process ``hf`` engine over the trainer's model."""
    from cascade.rsa import policy_engine

    return policy_engine(model, tokenizer)


class RSARefresher:
    """Samples the current policy's candidates and writes the rollouts file (see the module docstring)."""

    def __init__(self, settings: RSARefresh, stream: Any, specs: list[EnvSpec], pool: Any, tokenizer: Any,
                 stage_path: Path, seed: int = 0, engines: Any = None, shared: bool = False) -> None:
        """``shared``: sample through ``engines``, the stage's engine actors (None on ranks that do not own them)."""
        self.settings, self.stream, self.pool, self.tokenizer, self.seed = settings, stream, pool, tokenizer, seed
        self.engines, self.shared = engines, shared
        self.path = stage_path / ROLLOUTS_FILE
        self.env_ids = base_env_ids(settings, specs)
        self.difficulty = {s.id: s.difficulty for s in specs}
        self.version: int | None = None
        self.correct_mean: float | None = None
        self._engine: Any = None
        self._model: Any = None

    def problems(self, version: int) -> list[Any]:
        """``num_problems`` base tasks for this version, the same on every rank (seeded, held-out skipped)."""
        out = []
        for k in range(self.settings.num_problems):
            env_id = self.env_ids[k % len(self.env_ids)]
            for attempt in range(_DRAW_TRIES):
                seed = random.Random(f"rsa-refresh:{self.seed}:{version}:{k}:{attempt}").randrange(2**31)
                task = self.stream.sample_at(env_id, seed, self.difficulty.get(env_id, 0))
                heldout = self.stream.heldout is not None and task is not None and self.stream.heldout.is_heldout(task)
                if task is not None and not heldout:
                    out.append(task)
                    break
            else:
                raise RuntimeError(f"rsa refresh: {_DRAW_TRIES} draws of {env_id} failed or were held out")
        return out

    def _engine_for(self, model: Any) -> Any:
        if self.shared:
            return self.engines
        if self._engine is None or self._model is not model:
            self._engine, self._model = refresh_engine(model, self.tokenizer), model
        return self._engine

    def refresh(self, model: Any, version: int, step: int) -> None:
        """Sample, label and (rank 0) write version ``version``; every rank must call it together."""
        from cascade.generation.engine import SamplingParams, generate_texts
        from cascade.rsa import make_tail_fn, rollout_rows, write_rows

        s = self.settings
        tasks = self.problems(version)
        mine = [tasks[i] for i in owner_share(len(tasks), self.shared)]
        sampling = SamplingParams(max_new_tokens=s.budget, temperature=s.temperature)
        groups = generate_texts(self._engine_for(model), self.tokenizer, [t.prompt for t in mine], s.n, sampling)
        rows = rollout_rows(mine, groups, make_tail_fn(self.tokenizer), s.tau, self.pool)
        rows = _gather_rows([{**row, "version": version, "step": step} for row in rows])
        labels = [bool(c) for r in rows for c in r["correct"]]
        self.version, self.correct_mean = version, (sum(labels) / len(labels) if labels else 0.0)
        if is_main():
            write_rows(self.path, rows)
            log.info("rsa refresh v%d at step %d: %d problems x %d candidates, mean correct %.3f",
                     version, step, len(rows), s.n, self.correct_mean)
        barrier()

    def metrics(self) -> dict[str, float]:
        if self.version is None:
            return {}
        return {"rsa/refresh_version": float(self.version), "rsa/candidates_correct": float(self.correct_mean or 0.0)}


def _gather_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rank's rows, rank order (rank r sampled problems r, r+W, ...): restored to problem order."""
    if world_size() == 1:
        return rows
    import torch.distributed as dist

    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, rows)
    out = []
    for k in range(max(len(p) for p in parts)):
        out += [p[k] for p in parts if k < len(p)]
    return out


class RSARefreshCallback(TrainerCallback):
    """Refreshes the candidates every ``refresh_every`` optimizer steps; rewrites them on resume."""

    def __init__(self, refresher: RSARefresher, resumed_step: int = 0) -> None:
        self.refresher, self.resumed_step = refresher, resumed_step

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.resumed_step > 0:  # the weights are the checkpoint's now, not the stage's starting policy
            every = self.refresher.settings.refresh_every
            self.refresher.refresh(model, self.resumed_step // every, self.resumed_step)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        every = self.refresher.settings.refresh_every
        if state.global_step % every == 0 and state.global_step < args.max_steps:
            self.refresher.refresh(model, state.global_step // every, state.global_step)


def start_refresh(stage: StageConfig, seed: int, stream: Any, specs: list[EnvSpec], pool: Any, model: Any, tokenizer: Any,
                  stage_path: Path, resume: str | None, engines: Any = None) -> tuple[RSARefresher, RSARefreshCallback] | None:
    """For a stage with ``rsa:``: write the first candidates now (before anything draws tasks) and
    return the refresher with its trainer callback; ``None`` for a stage without. ``engines``: the
    stage's engine actors as a sampler (``generation.setup.stage_sampler``) when it has them."""
    if stage.rsa is None:
        return None
    step = 0
    if resume is not None and (Path(resume) / "trainer_state.json").is_file():
        step = int(json.loads((Path(resume) / "trainer_state.json").read_text()).get("global_step", 0))
    refresher = RSARefresher(stage.rsa, stream, specs, pool, tokenizer, stage_path, seed, engines, stage.generation.has_engines)
    if step == 0 or not _readable(refresher.path):  # a resumed stage keeps its last file until training begins
        refresher.refresh(model, step // stage.rsa.refresh_every, step)
    return refresher, RSARefreshCallback(refresher, resumed_step=step)


def _readable(path: Path) -> bool:
    from envs.rsa import load_rollout_rows

    try:
        return bool(load_rollout_rows(path))
    except (OSError, ValueError):
        return False
