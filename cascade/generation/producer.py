"""Rollout producer: engine actors generating ahead of the trainer, into the bounded buffer.

Each request is a few groups (one task, ``group_size`` completions each) sent to one engine actor.
Ray runs an actor's calls in order, so a weight update queued behind pending requests takes effect
after them: every completion's ``weight_version`` is the version that really sampled it. The
producer keeps ``capacity`` groups outstanding (in flight + buffered), so engines work on future
steps while the trainer trains; ``take`` drops what is more than ``max_staleness`` versions old.
An engine actor that dies is replaced (current weights) and its in-flight requests are re-sent.

``max_staleness: 0`` is the synchronous path: nothing is generated ahead; the trainer's own batch
is sampled after the latest weights landed (with one worker, from the trainer's RNG stream).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cascade.generation.buffer import Group, RolloutBuffer
from cascade.generation.engine import Completion, SamplingParams

log = logging.getLogger(__name__)


@dataclass
class _Request:
    worker: int
    prompts: list[Any]
    prompt_ids: list[list[int]]
    tasks: list[str | None]
    n: int
    rng_state: Any = None
    actor: Any = None  # the engine it was sent to (a dead one is replaced once, not once per request)


class RolloutProducer:
    """Owns ``workers`` engine actors (built by ``make_actor(weights_ref, version)``) and the buffer."""

    def __init__(self, make_actor: Callable[[Any, int], Any], workers: int, weights: dict[str, Any], max_staleness: int,
                 sampling: SamplingParams | None, group_size: int | None, next_task: Callable[[], Any] | None = None,
                 tokenize: Callable[[list[Any]], list[list[int]]] | None = None, buffer_size: int | None = None,
                 groups_per_request: int | None = None) -> None:
        import ray

        self._ray, self.make_actor = ray, make_actor
        self.max_staleness, self.sampling, self.group_size = max_staleness, sampling, group_size
        self.next_task, self.tokenize, self.groups_per_request = next_task, tokenize, groups_per_request
        self.version, self._weights = 0, ray.put(weights)
        self.actors = [make_actor(self._weights, 0) for _ in range(workers)]
        ray.get([a.ready.remote() for a in self.actors])
        self.buffer_size = buffer_size
        self.buffer: RolloutBuffer | None = None
        self._inflight: dict[Any, _Request] = {}
        self.scorer: Any | None = None  # PipelineScorer: verify finished groups before they enter the buffer
        self._scoring: list[Any] = []  # futures of groups being verified
        self._next_worker = 0
        self.restarts = 0
        self.regenerated = 0
        self._gen_seconds = 0.0
        self._wait_seconds = 0.0
        self._mark = time.perf_counter()

    # ---- weights ---------------------------------------------------------------------------
    def update_weights(self, state: dict[str, Any], version: int) -> None:
        """Queue new weights on every engine (behind its pending requests) and remember them for restarts."""
        self._weights, self.version = self._ray.put(state), int(version)
        for actor in self.actors:
            actor.update_weights.remote(self._weights, self.version)

    # ---- requests --------------------------------------------------------------------------
    def _submit(self, req: _Request) -> None:
        actor = req.actor = self.actors[req.worker]
        if req.rng_state is not None:
            ref = actor.generate_with_rng.remote(req.prompt_ids, req.n, self.sampling, req.rng_state)
        else:
            ref = actor.generate_timed.remote(req.prompt_ids, req.n, self.sampling)
        self._inflight[ref] = req

    def _new_request(self) -> _Request:
        tasks = [self.next_task() for _ in range(self.groups_per_request)]
        prompts = [t.prompt for t in tasks]
        worker, self._next_worker = self._next_worker, (self._next_worker + 1) % len(self.actors)
        return _Request(worker, prompts, self.tokenize(prompts), [t.to_json() for t in tasks], self.group_size)

    def _replace(self, worker: int) -> None:
        log.warning("rollout engine %d died; starting a replacement at weight version %d", worker, self.version)
        self.restarts += 1
        self.actors[worker] = self.make_actor(self._weights, self.version)
        self._ray.get(self.actors[worker].ready.remote())

    def _collect(self, ref: Any) -> tuple[_Request, list[Completion]] | None:
        """A finished request's completions, or None after re-sending it to a replacement engine."""
        req = self._inflight.pop(ref)
        try:
            result = self._ray.get(ref)
        except self._ray.exceptions.RayActorError:
            if self.actors[req.worker] is req.actor:
                self._replace(req.worker)
            self.regenerated += len(req.prompt_ids)
            self._submit(req)
            return None
        completions, extra = result
        if req.rng_state is None:
            self._gen_seconds += float(extra)
        else:
            req.rng_state = extra
        return req, completions

    def _wait(self, timeout: float | None) -> list[tuple[_Request, list[Completion]]]:
        if not self._inflight:
            return []
        ready, _ = self._ray.wait(list(self._inflight), num_returns=1, timeout=timeout)
        ready += self._ray.wait([r for r in self._inflight if r not in ready], num_returns=len(self._inflight) - len(ready), timeout=0)[0]
        return [got for got in (self._collect(r) for r in ready) if got is not None]

    # ---- the trainer's side ----------------------------------------------------------------
    def take(self, n_groups: int, current_version: int) -> list[Group]:
        """``n_groups`` groups at most ``max_staleness`` versions behind ``current_version``; blocks until there."""
        if self.buffer is None:
            capacity = self.buffer_size or self.max_staleness * n_groups  # more ahead would only age past k
            self.buffer = RolloutBuffer(max(capacity, n_groups), self.max_staleness)
            self.groups_per_request = self.groups_per_request or max(1, n_groups // len(self.actors))
        out: list[Group] = []
        while True:
            self._harvest(block=False)
            out += self.buffer.take(n_groups - len(out), current_version)
            if len(out) == n_groups:
                break
            self._top_up(n_groups - len(out))
            self._harvest(block=True)
        self._top_up(0)  # keep the engines busy on future steps while this batch trains
        return out

    def _harvest(self, block: bool) -> None:
        """Move finished requests on (to the scorer, else the buffer); with ``block``, until a group lands."""
        import concurrent.futures as cf

        started, landed = time.perf_counter(), len(self.buffer)
        while True:
            for req, completions in self._wait(timeout=0 if (not block or self._scoring) else None):
                self._store(req, completions)
            for future in [f for f in self._scoring if f.done()]:
                self._scoring.remove(future)
                for group in future.result():
                    self.buffer.put(group)
            if not block or len(self.buffer) > landed or not (self._inflight or self._scoring):
                break
            if self._scoring:
                cf.wait(self._scoring, timeout=0.02, return_when=cf.FIRST_COMPLETED)
        if block:
            self._wait_seconds += time.perf_counter() - started

    def _outstanding(self) -> int:
        scoring = self.groups_per_request * len(self._scoring)
        return len(self.buffer) + scoring + sum(len(r.prompt_ids) for r in self._inflight.values())

    def _top_up(self, need: int) -> None:
        while self._outstanding() < max(self.buffer.capacity, need + len(self.buffer)):
            self._submit(self._new_request())

    def _store(self, req: _Request, completions: list[Completion]) -> None:
        n = req.n
        groups = [Group(p, completions[i * n : (i + 1) * n], t) for i, (p, t) in enumerate(zip(req.prompts, req.tasks))]
        if self.scorer is not None:
            self._scoring.append(self.scorer.submit(groups))
            return
        for group in groups:
            self.buffer.put(group)

    def generate_on_policy(self, prompt_ids: list[list[int]], rng_state: Any | None = None) -> tuple[list[Completion], Any]:
        """Synchronous path: the trainer's own rows (already repeated per group), sampled now.

        One worker with ``rng_state`` draws from the trainer's RNG stream and returns the state after.
        Several workers split the rows into contiguous slices (no RNG hand-over).
        """
        if rng_state is not None and len(self.actors) == 1:
            requests = [_Request(0, [None] * len(prompt_ids), prompt_ids, [None] * len(prompt_ids), 1, rng_state)]
        else:
            rng_state, step = None, -(-len(prompt_ids) // len(self.actors))
            requests = [_Request(w, [None] * len(prompt_ids[s : s + step]), prompt_ids[s : s + step],
                                 [None] * len(prompt_ids[s : s + step]), 1) for w, s in enumerate(range(0, len(prompt_ids), step))]
        for req in requests:
            self._submit(req)
        done: dict[int, list[Completion]] = {}
        started = time.perf_counter()
        while len(done) < len(requests):  # only our own requests: ahead-of-time ones stay in flight
            mine = [ref for ref, req in self._inflight.items() if any(req is r for r in requests)]
            ready, _ = self._ray.wait(mine, num_returns=1)
            got = self._collect(ready[0])  # None: its engine died and the request was re-sent
            if got is not None:
                done[next(i for i, r in enumerate(requests) if r is got[0])] = got[1]
        if self.buffer is None:
            waited = time.perf_counter() - started
            self._wait_seconds += waited
            self._gen_seconds += waited
        flat = [c for i in range(len(requests)) for c in done[i]]
        return flat, (requests[0].rng_state if rng_state is not None else None)

    def metrics(self) -> dict[str, float]:
        """Busy fractions since the last call, buffer fill, drop and restart counts."""
        now = time.perf_counter()
        span, self._mark = max(now - self._mark, 1e-9), now
        out = {
            "generation/busy_frac": min(1.0, self._gen_seconds / (span * len(self.actors))),
            "generation/trainer_busy_frac": max(0.0, 1.0 - self._wait_seconds / span),
            "generation/buffer_fill": self.buffer.fill if self.buffer is not None else 0.0,
            "generation/dropped_stale": float(self.buffer.dropped_stale if self.buffer is not None else 0),
            "generation/evicted": float(self.buffer.evicted if self.buffer is not None else 0),
            "generation/engine_restarts": float(self.restarts),
            "generation/regenerated": float(self.regenerated),
            "generation/engine_version": float(self.version),
        }
        self._gen_seconds = self._wait_seconds = 0.0
        return out

    def close(self) -> None:
        """Stop the scorer and the engines (idempotent: the runner closes again after a failure)."""
        if self.scorer is not None:
            self.scorer.close()
            self.scorer = None
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors, self._inflight = [], {}
