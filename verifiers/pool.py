"""Verifier pools: run verifiers in Ray actors so slow or broken ones cannot stall training.

A verifier that raises is already a Verdict (``verify_safely``); here we add what only
process isolation can give: a per-item timeout and survival of a crashed worker. Both
become zero-reward Verdicts with reasons ``verifier_timeout`` / ``verifier_crash``, and
are counted in ``stats``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from verifiers.base import (
    Verdict,
    Verifier,
    get_verifier,
    list_verifiers,
    register_verifier,
    verifier_class,
    verify_safely,
)

Item = tuple[str, str, dict[str, Any]]  # (verifier name, completion, payload)


class _VerifierCache:
    """Verifier instances by name; building some (math, code) is not free.

    ``extra`` registers verifier classes that the worker process could not import by
    itself (a plug-in, or a test's deliberately slow verifier).
    """

    def __init__(
        self, options: dict[str, dict[str, Any]] | None = None, extra: dict[str, type[Verifier]] | None = None
    ) -> None:
        self.options = options or {}
        self._cache: dict[str, Verifier] = {}
        for name, cls in (extra or {}).items():
            register_verifier(name)(cls)

    def run(self, item: Item) -> Verdict:
        name, completion, payload = item
        if name not in self._cache:
            try:
                self._cache[name] = get_verifier(name, **self.options.get(name, {}))
            except Exception as exc:  # noqa: BLE001 - an unknown verifier is a verdict, not a crash
                return Verdict.fail("unknown_verifier", error=str(exc))
        return verify_safely(self._cache[name], completion, payload)


class LocalVerifierPool:
    """Runs verifiers in this process: for the CLI and unit tests, where Ray is overkill."""

    def __init__(
        self, options: dict[str, dict[str, Any]] | None = None, extra: dict[str, type[Verifier]] | None = None
    ) -> None:
        self._cache = _VerifierCache(options, extra)
        self.stats: Counter[str] = Counter()

    def verify(self, items: list[Item]) -> list[Verdict]:
        verdicts = [self._cache.run(item) for item in items]
        self.stats.update(v.reason for v in verdicts if v.reason.startswith("verifier_"))
        return verdicts

    def close(self) -> None:
        pass


class _Worker:
    def __init__(self, options: dict[str, dict[str, Any]] | None, extra: dict[str, type[Verifier]] | None) -> None:
        self._cache = _VerifierCache(options, extra)

    def ready(self) -> int:
        """Import every built-in verifier now, so start-up is not charged to the first item's deadline."""
        return len([verifier_class(name) for name in list_verifiers()])

    def verify(self, item: Item) -> dict[str, Any]:
        return self._cache.run(item).to_dict()


class RayVerifierPool:
    """``num_workers`` Ray actors; items are dealt round-robin and awaited with a deadline each."""

    def __init__(
        self,
        num_workers: int = 2,
        timeout_s: float = 30.0,
        options: dict[str, dict[str, Any]] | None = None,
        num_cpus: float = 0,
        extra: dict[str, type[Verifier]] | None = None,
        startup_timeout_s: float = 300.0,
    ) -> None:
        import ray

        self._ray = ray
        self._actor_cls = ray.remote(num_cpus=num_cpus, max_restarts=0)(_Worker)
        self._options = options
        self._extra = extra
        self.timeout_s = timeout_s
        self.startup_timeout_s = startup_timeout_s
        self.stats: Counter[str] = Counter()
        self._workers = [self._actor_cls.remote(self._options, self._extra) for _ in range(num_workers)]
        ray.get([w.ready.remote() for w in self._workers], timeout=startup_timeout_s)

    def _spawn(self) -> Any:
        worker = self._actor_cls.remote(self._options, self._extra)
        self._ray.get(worker.ready.remote(), timeout=self.startup_timeout_s)
        return worker

    def verify(self, items: list[Item]) -> list[Verdict]:
        results: list[Verdict | None] = [None] * len(items)
        queues: dict[int, list[int]] = {w: [] for w in range(len(self._workers))}
        for i in range(len(items)):
            queues[i % len(self._workers)].append(i)
        refs = {i: self._workers[w].verify.remote(items[i]) for w, idxs in queues.items() for i in idxs}
        for w, idxs in queues.items():
            pos, retried, replaced = 0, set(), False
            while pos < len(idxs):
                i = idxs[pos]
                verdict = self._await(refs[i])
                if verdict.reason == "verifier_crash" and i not in retried:
                    # A dying worker can take finished neighbours' replies with it: retry the item
                    # alone on a fresh worker (with its queue behind it, a culprit further on could
                    # kill the reply again); an item that crashes it again is the culprit.
                    retried.add(i)
                    self._replace(w, [(i, items[i])], refs)
                    replaced = True
                    continue
                results[i] = verdict
                if verdict.reason in ("verifier_timeout", "verifier_crash"):
                    self._replace(w, [], refs)
                    replaced = True
                if replaced:  # the rest of the queue went down with the old worker
                    self._submit(w, [(j, items[j]) for j in idxs[pos + 1 :]], refs)
                    replaced = False
                pos += 1
        return [r if r is not None else Verdict.fail("verifier_crash") for r in results]

    def _await(self, ref: Any) -> Verdict:
        ray = self._ray
        try:
            return Verdict(**ray.get(ref, timeout=self.timeout_s))
        except ray.exceptions.GetTimeoutError:
            self.stats["verifier_timeout"] += 1
            return Verdict.fail("verifier_timeout", timeout_s=self.timeout_s)
        except ray.exceptions.RayError as exc:
            self.stats["verifier_crash"] += 1
            return Verdict.fail("verifier_crash", error=type(exc).__name__)

    def _replace(self, w: int, pending: list[tuple[int, Item]], refs: dict[int, Any]) -> None:
        """Kill a hung or dead worker, start a fresh one and resubmit ``pending`` to it."""
        self._ray.kill(self._workers[w], no_restart=True)
        self._workers[w] = self._spawn()
        self._submit(w, pending, refs)

    def _submit(self, w: int, pending: list[tuple[int, Item]], refs: dict[int, Any]) -> None:
        for j, item in pending:
            refs[j] = self._workers[w].verify.remote(item)

    def close(self) -> None:
        for worker in self._workers:
            self._ray.kill(worker, no_restart=True)
        self._workers = []

