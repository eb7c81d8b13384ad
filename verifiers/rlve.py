"""The "rlve" verifier: scores a completion with the rlve-gym environment's own verifier.

rlve scores lie in [-1, 1] (-1 for a missing/unparsable answer, sometimes a negative score
for an invalid solution). ``mode="shaped"`` (default) passes the score through, floored at
``reward_floor`` (0.0 by default, because the cascade's MaxRL advantage divides by the group
mean and needs non-negative rewards; set ``reward_floor=None`` for rlve's raw score);
``mode="binary"`` gives 1.0 for a pass and 0.0 otherwise. ``correct`` is rlve's accuracy
(score >= the problem's passing threshold).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any

from envs.generated import preserved_global_rng
from envs.rlve import problem_from_payload
from verifiers.base import Verdict, Verifier, register_verifier

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _last_answer(completion: str) -> str | None:
    matches = _ANSWER.findall(completion)
    return matches[-1].strip()[:500] if matches else None


@register_verifier("rlve")
class RLVEVerifier(Verifier):
    """Rebuilds the rlve problem from the payload and applies ``env.verifier``."""

    def __init__(
        self,
        mode: str = "shaped",
        reward_floor: float | None = 0.0,
        max_chars: int = 200_000,
        cache_size: int = 256,
    ) -> None:
        if mode not in ("shaped", "binary"):
            raise ValueError(f"mode must be 'shaped' or 'binary', not {mode!r}")
        self.mode = mode
        self.reward_floor = reward_floor
        self.max_chars = int(max_chars)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, Any] = OrderedDict()

    def _problem(self, payload: dict[str, Any]) -> Any:
        key = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        env = problem_from_payload(payload)
        self._cache[key] = env
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return env

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        if not isinstance(completion, str):
            return Verdict.fail("bad_completion")
        if len(completion) > self.max_chars:
            return Verdict.fail("too_long", chars=len(completion))
        try:
            env = self._problem(payload)
        except Exception as exc:  # noqa: BLE001 - a bad payload is not the model's fault, but must not raise
            return Verdict.fail("bad_payload", error=f"{type(exc).__name__}: {exc}"[:300])
        extracted = _last_answer(completion)
        if extracted is None:
            return Verdict(0.0, False, "no_answer", None, {"rlve_reward": -1.0})
        try:
            with preserved_global_rng():
                result = env.verifier(completion)
            score = float(result["reward"])
            accuracy = int(result["accuracy"])
            format_ok = int(result["format_score"])
        except Exception as exc:  # noqa: BLE001 - rlve asserts on out-of-range scores
            return Verdict.fail("verifier_error", error=f"{type(exc).__name__}: {exc}"[:300])
        threshold = float(getattr(env, "passing_reward_threshold", 1.0))
        correct = accuracy == 1 or score >= threshold - 1e-6
        if self.mode == "binary":
            reward = 1.0 if correct else 0.0
        else:
            reward = score if self.reward_floor is None else max(self.reward_floor, score)
        reason = "correct" if correct else ("wrong_answer" if format_ok else "bad_format")
        details = {"rlve_reward": score, "format_score": format_ok, "threshold": threshold}
        return Verdict(float(reward), bool(correct), reason, extracted, details)
