"""Task generation off the trainer process: a pool of Ray actors with a deadline per problem.

rlve-gym generators reseed the process-wide RNGs and time themselves out with a thread
pool, and a few hang or raise at high difficulty. Running them in separate processes keeps
the trainer's RNG streams and threads clean; a deadline per request, and killing and
replacing an actor that overruns it, means a bad generator costs one missing task (counted
in ``stats()``), never a stalled or crashed step. ``LocalGeneratorPool`` has the same API
and runs in-process, for tests and the CLI (no kill on hang: only rlve's own timeout).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from envs.base import Environment, get_env, register_env
from envs.task import Task

Request = tuple[str, int, int]  # (env_id, seed, difficulty)
Options = dict[str, dict[str, Any]]  # env id (or source prefix) -> get_env options


@dataclass
class Outcome:
    """What became of one request: status is ok, failed (raised / returned False) or timeout."""

    status: str
    task: Task | None = None
    error: str = ""
    elapsed_s: float = 0.0


def _options_for(env_id: str, env_options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Options by exact env id, else by source prefix (``rlve`` for ``rlve/Multiplication``)."""
    if env_id in env_options:
        return env_options[env_id]
    return env_options.get(env_id.split("/", 1)[0], {})


def _merged(env_id: str, options: Options | None) -> dict[str, Any] | None:
    """Per-call options for ``env_id``, or None to use the pool's defaults."""
    return None if not options or env_id not in options else dict(options[env_id])


class _Generator:
    """Environment cache + one guarded sample; shared by the local pool and the Ray actors."""

    def __init__(
        self, env_options: dict[str, dict[str, Any]] | None, extra: dict[str, Callable[..., Environment]] | None
    ) -> None:
        self.env_options = env_options or {}
        self._envs: dict[str, Environment] = {}
        for env_id, factory in (extra or {}).items():
            register_env(env_id, source="extra")(factory)

    def sample(self, env_id: str, seed: int, difficulty: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            opts = {**_options_for(env_id, self.env_options), **(options or {})}
            key = env_id + json.dumps(opts, sort_keys=True, default=str)
            if key not in self._envs:
                self._envs[key] = get_env(env_id, **opts)
            task = self._envs[key].sample(int(seed), int(difficulty))
            return {"status": "ok", "task": task.to_dict(), "elapsed_s": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001 - any generator failure is one skipped task
            error = f"{type(exc).__name__}: {exc}"[:300]
            return {"status": "failed", "error": error, "elapsed_s": time.perf_counter() - start}


def _outcome(result: dict[str, Any]) -> Outcome:
    task = Task.from_dict(result["task"]) if result.get("task") is not None else None
    return Outcome(result["status"], task, result.get("error", ""), result.get("elapsed_s", 0.0))


class LocalGeneratorPool:
    """Sequential, in-process generation with the pool's API (tests, CLI, small jobs)."""

    def __init__(
        self,
        timeout_s: float = 30.0,
        env_options: dict[str, dict[str, Any]] | None = None,
        extra: dict[str, Callable[..., Environment]] | None = None,
    ) -> None:
        options = {"rlve": {"timeout_s": timeout_s}}
        options.update(env_options or {})
        self._gen = _Generator(options, extra)
        self.counts: Counter[str] = Counter()

    def run(self, requests: Sequence[Request], options: Options | None = None) -> list[Outcome]:
        outcomes = [_outcome(self._gen.sample(*r, _merged(r[0], options))) for r in requests]
        self.counts.update(o.status for o in outcomes)
        return outcomes

    def sample_many(self, requests: Sequence[Request], options: Options | None = None) -> list[Task | None]:
        return [o.task for o in self.run(requests, options)]

    def stats(self) -> dict[str, int]:
        return {"ok": self.counts["ok"], "failed": self.counts["failed"], "timeout": self.counts["timeout"]}

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalGeneratorPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Actor(_Generator):
    def __init__(self, env_options: Any, extra: Any, preload: Sequence[str]) -> None:
        super().__init__(env_options, extra)
        if "rlve" in preload:  # import the 400 modules (+torch) once, outside any deadline
            import Gym.environments  # noqa: F401
        if "rg" in preload:
            import reasoning_gym  # noqa: F401

    def ready(self) -> bool:
        return True


class GeneratorPool:
    """``num_workers`` Ray actors fed from a queue; each request has ``timeout_s`` once started.

    A request that overruns is recorded as ``timeout`` and its actor is killed and replaced
    (its process may be stuck in C code or a thread that cannot be interrupted).
    """

    def __init__(
        self,
        num_workers: int = 2,
        timeout_s: float = 30.0,
        env_options: dict[str, dict[str, Any]] | None = None,
        extra: dict[str, Callable[..., Environment]] | None = None,
        num_cpus: float = 0,
        preload: Sequence[str] = ("rlve",),
        startup_timeout_s: float = 300.0,
    ) -> None:
        import ray

        self._ray = ray
        # rlve's in-process timeout is a backstop only: the actor deadline should fire first.
        options = {"rlve": {"timeout_s": 2 * timeout_s + 5}}
        options.update(env_options or {})
        self._args = (options, extra, tuple(preload))
        self._actor_cls = ray.remote(num_cpus=num_cpus, max_restarts=0)(_Actor)
        self.timeout_s = float(timeout_s)
        self.startup_timeout_s = float(startup_timeout_s)
        self.counts: Counter[str] = Counter()
        self._workers = [self._spawn() for _ in range(num_workers)]

    def _spawn(self) -> dict[str, Any]:
        actor = self._actor_cls.remote(*self._args)
        return {"actor": actor, "ready": actor.ready.remote(), "since": time.monotonic(), "job": None}

    def _replace(self, w: int) -> None:
        self._ray.kill(self._workers[w]["actor"], no_restart=True)
        self._workers[w] = self._spawn()
        self.counts["restarts"] += 1

    def run(self, requests: Sequence[Request], options: Options | None = None) -> list[Outcome]:
        """Generate every request; never raises for a generator's failure or hang."""
        ray = self._ray
        results: list[Outcome | None] = [None] * len(requests)
        queue = deque(range(len(requests)))
        while queue or any(w["job"] is not None for w in self._workers):
            now = time.monotonic()
            for w in self._workers:  # hand out work to idle, started workers
                if w["ready"] is None and w["job"] is None and queue:
                    i = queue.popleft()
                    w["job"] = (i, w["actor"].sample.remote(*requests[i], _merged(requests[i][0], options)), now)
            waiting = {w["ready"]: (k, "ready") for k, w in enumerate(self._workers) if w["ready"] is not None}
            waiting.update({w["job"][1]: (k, "job") for k, w in enumerate(self._workers) if w["job"] is not None})
            deadlines = [w["job"][2] + self.timeout_s for w in self._workers if w["job"] is not None]
            wait_s = max(0.01, min(deadlines) - now) if deadlines else 1.0
            done, _ = ray.wait(list(waiting), num_returns=1, timeout=wait_s)
            for ref in done:
                k, kind = waiting[ref]
                self._collect(k, kind, ref, results)
            self._enforce_deadlines(results)
        return [r if r is not None else Outcome("failed", error="lost") for r in results]

    def _collect(self, k: int, kind: str, ref: Any, results: list[Outcome | None]) -> None:
        ray, w = self._ray, self._workers[k]
        if kind == "ready":
            try:
                ray.get(ref)
                w["ready"] = None
            except ray.exceptions.RayError as exc:
                raise RuntimeError(f"generator worker failed to start: {exc}") from exc
            return
        i, _, started = w["job"]
        w["job"] = None
        try:
            results[i] = _outcome(ray.get(ref))
        except ray.exceptions.RayError as exc:  # the actor died (segfault, OOM): skip and replace
            results[i] = Outcome("failed", error=f"worker died: {type(exc).__name__}",
                                 elapsed_s=time.monotonic() - started)
            self._replace(k)
        self.counts[results[i].status] += 1

    def _enforce_deadlines(self, results: list[Outcome | None]) -> None:
        now = time.monotonic()
        for k, w in enumerate(self._workers):
            if w["job"] is not None and now - w["job"][2] > self.timeout_s:
                i = w["job"][0]
                results[i] = Outcome("timeout", error=f"no result in {self.timeout_s:g}s", elapsed_s=now - w["job"][2])
                self.counts["timeout"] += 1
                self._replace(k)
            elif w["ready"] is not None and now - w["since"] > self.startup_timeout_s:
                raise RuntimeError(f"generator worker not started after {self.startup_timeout_s:g}s")

    def sample_many(self, requests: Sequence[Request], options: Options | None = None) -> list[Task | None]:
        """Tasks in request order; None where generation failed or timed out.

        ``options`` maps env ids to environment options (``get_env(env_id, **options)``),
        layered over the pool's ``env_options`` for that env.
        """
        return [o.task for o in self.run(requests, options)]

    def stats(self) -> dict[str, int]:
        return {k: self.counts[k] for k in ("ok", "failed", "timeout", "restarts")}

    def close(self) -> None:
        for w in self._workers:
            self._ray.kill(w["actor"], no_restart=True)
        self._workers = []

    def __enter__(self) -> "GeneratorPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
