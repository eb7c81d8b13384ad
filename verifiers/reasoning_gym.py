"""The "rg" verifier: extracts ``<answer>...</answer>`` and applies the dataset's ``score_answer``.

reasoning-gym scores are in [0, 1] and some are partial credit; ``reward`` is that score and
``correct`` means score >= ``pass_threshold`` (1.0 by default). The entry comes from the
payload when it was JSON-encodable, otherwise it is regenerated from (dataset, difficulty, seed).
"""

from __future__ import annotations

from typing import Any

from envs.reasoning_gym import rg_dataset, rg_entry
from envs.generated import decode_jsonable, preserved_global_rng
from verifiers.base import Verdict, Verifier, register_verifier


@register_verifier("rg")
class ReasoningGymVerifier(Verifier):
    """Scores with reasoning-gym's own ``score_answer`` for the task's dataset."""

    def __init__(self, pass_threshold: float = 1.0, max_chars: int = 200_000) -> None:
        self.pass_threshold = float(pass_threshold)
        self.max_chars = int(max_chars)

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        if not isinstance(completion, str):
            return Verdict.fail("bad_completion")
        if len(completion) > self.max_chars:
            return Verdict.fail("too_long", chars=len(completion))
        try:
            key = (
                str(payload["dataset"]),
                int(payload.get("difficulty", 0)),
                int(payload["seed"]),
                str(payload.get("range_mode", "inclusive")),
            )
            dataset = rg_dataset(*key)
            entry = decode_jsonable(payload["entry"]) if payload.get("entry") is not None else rg_entry(*key)
        except Exception as exc:  # noqa: BLE001 - must not raise
            return Verdict.fail("bad_payload", error=f"{type(exc).__name__}: {exc}"[:300])
        from reasoning_gym.utils import extract_answer

        answer = extract_answer(completion)
        if answer is None:
            return Verdict.fail("no_answer")
        try:
            with preserved_global_rng():
                score = float(dataset.score_answer(answer, entry))
        except Exception as exc:  # noqa: BLE001 - several score_answer raise on junk
            return Verdict(0.0, False, "wrong_answer", answer[:500], {"error": f"{type(exc).__name__}"})
        if not 0.0 <= score <= 1.0 or score != score:
            return Verdict(0.0, False, "verifier_error", answer[:500], {"score": repr(score)})
        correct = score >= self.pass_threshold - 1e-9
        return Verdict(score, correct, "correct" if correct else "wrong_answer", answer[:500], {"score": score})
