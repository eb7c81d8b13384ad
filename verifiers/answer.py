"""Answer-tag verifiers: ``exact`` (the tagged answer equals the gold) and ``answer_format``.

``answer_format`` is a shaping reward: it pays for one well-formed ``<answer>`` block and
nothing else, so a stage can teach the format without leaking correctness.
"""

from __future__ import annotations

import re
from typing import Any

from verifiers.base import Verdict, Verifier, register_verifier

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
MAX_SCAN_CHARS = 20_000
MAX_ANSWER_CHARS = 200


def extract_tagged_answers(completion: str) -> list[str]:
    """All ``<answer>`` contents in the completion's tail (hostile text is only scanned so far)."""
    return [m.strip() for m in ANSWER_RE.findall(completion[-MAX_SCAN_CHARS:])]


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return float(a.replace(",", "")) == float(b.replace(",", ""))
    except ValueError:
        return False


@register_verifier("exact")
class ExactAnswerVerifier(Verifier):
    """The last ``<answer>`` block must equal ``payload['answer']`` (numbers compared by value)."""

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        if "answer" not in payload:
            return Verdict.fail("bad_payload", error="payload has no 'answer'")
        answers = extract_tagged_answers(completion)
        if not answers:
            return Verdict.fail("no_answer")
        if len(set(answers)) > 1:
            return Verdict(0.0, False, "hedged", extracted=answers[-1], details={"answers": answers[:5]})
        answer = answers[-1]
        if len(answer) > MAX_ANSWER_CHARS:
            return Verdict(0.0, False, "answer_too_long", extracted=answer[:MAX_ANSWER_CHARS])
        ok = _same(answer, str(payload["answer"]).strip())
        return Verdict(1.0 if ok else 0.0, ok, "correct" if ok else "wrong_answer", extracted=answer)


@register_verifier("answer_format")
class AnswerFormatVerifier(Verifier):
    """Reward 1 for exactly one non-empty ``<answer>`` block; correctness is not checked."""

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        answers = extract_tagged_answers(completion)
        if len(answers) != 1 or not answers[0]:
            return Verdict.fail("bad_format", count=len(answers))
        return Verdict(1.0, True, "well_formed", extracted=answers[0][:MAX_ANSWER_CHARS])
