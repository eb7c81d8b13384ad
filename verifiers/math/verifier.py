"""The "math" verifier: final-answer equivalence, hardened against reward hacking.

Order of judgement (cheapest first): extract the last ``\\boxed{}`` (a "The final answer
is $X$" stated after every box wins; else a configured fallback) from the tail of the
completion, reject hedges and oversize answers, compare units, check every side of a
chained equality, try an exact fast path for plain numbers and identical strings, and
only then ask math-verify (in a killable worker, with an independent re-check).

Several different boxes answer a multi-valued gold when together they are exactly its
values (any order); for a single-valued gold each box must state the gold, else the
completion is a hedge. Percent is read both ways, as math-verify does: ``20\\%`` is
right for gold 20 (the percent sign as a label) and for gold 0.2 (its value). Decimal
precision: see ``compare``: an exact gold needs an exactly equal answer, so truncated
expansions (0.666667 for 2/3) are wrong.
"""

from __future__ import annotations

import re
import time
from typing import Any

from verifiers.base import Verdict, Verifier, register_verifier
from verifiers.math.answer import canonical, fast_number, is_hedge, is_multi, split_units
from verifiers.math.normalize import as_list, plain_number_form, reduce_chain, scale_words, split_percent, unwrap
from verifiers.math.extract import FALLBACKS, extract_answer, normalize_text
from verifiers.math.pool import WorkerCrash, WorkerTimeout, get_pool

REASONS = ("correct", "wrong_answer", "no_answer", "hedged", "answer_too_long", "timeout", "parse_error", "bad_payload")
_MAX_GOLD_CHARS = 2000
_MAX_BOXES = 8
_SET_LITERAL = re.compile(r"^\\?\{.*,.*\\?\}$", re.DOTALL)


@register_verifier("math")
class MathVerifier(Verifier):
    """Payload: ``{"answer": gold, "alternatives": [...]?, "fallbacks": [...]?}``.

    ``timeout_s`` bounds the sympy comparison of one call (``None`` runs it inline,
    without a deadline: only for trusted input). ``several_boxes="hedge"`` makes
    different boxed answers in one completion a hedge; ``"last"`` keeps the last one.
    """

    def __init__(
        self,
        fallbacks: tuple[str, ...] | list[str] = ("answer_tag",),
        timeout_s: float | None = 5.0,
        max_answer_chars: int = 300,
        max_scan_chars: int = 6000,
        several_boxes: str = "hedge",
        require_units: bool = False,
        workers: int = 2,
        memory_mb: int = 1536,
    ) -> None:
        self.fallbacks = _check_fallbacks(fallbacks)
        if several_boxes not in ("hedge", "last"):
            raise ValueError("several_boxes must be 'hedge' or 'last'")
        self.timeout_s = timeout_s
        self.max_answer_chars = int(max_answer_chars)
        self.max_scan_chars = int(max_scan_chars)
        self.several_boxes = several_boxes
        self.require_units = bool(require_units)
        self.workers = int(workers)
        self.memory_mb = int(memory_mb)

    def warmup(self) -> None:
        """Start the sympy workers now rather than on the first hard comparison."""
        if self.timeout_s is not None:
            get_pool(self.workers, self.memory_mb).warm()

    def verify(self, completion: str, payload: dict[str, Any]) -> Verdict:
        golds = _golds(payload)
        if golds is None:
            return Verdict.fail("bad_payload", error="payload needs 'answer': str or number")
        try:
            fallbacks = _check_fallbacks(payload.get("fallbacks", self.fallbacks))
        except (TypeError, ValueError) as exc:
            return Verdict.fail("bad_payload", error=str(exc)[:200])
        if not isinstance(completion, str):
            return Verdict.fail("no_answer", error="completion is not text")
        ext = extract_answer(completion, fallbacks, self.max_scan_chars)
        if ext.answer is None or not ext.answer.strip():
            return Verdict.fail("no_answer", problem=ext.problem, source=ext.source)
        answer = ext.answer
        details: dict[str, Any] = {"source": ext.source}
        if len(answer) > self.max_answer_chars:
            return _verdict("answer_too_long", answer[:100], details, length=len(answer))
        several = ext.problem == "several_boxes" and self.several_boxes == "hedge"
        boxes = _distinct(ext.boxes) if several else [answer]
        if not boxes:
            return Verdict.fail("no_answer", problem=ext.problem, source=ext.source)
        if len(boxes) > _MAX_BOXES:
            return _verdict("hedged", answer, details, problem="several_boxes")
        if any(len(b) > self.max_answer_chars for b in boxes):
            return _verdict("answer_too_long", answer[:100], details, length=max(map(len, boxes)))
        deadline = time.monotonic() + (self.timeout_s or 0.0)
        first: tuple[str, dict[str, Any]] | None = None
        for gold in golds:
            reason, more = self._judge_boxes(gold, boxes, deadline) if several else self._judge(gold, answer, deadline)
            if reason == "correct":
                return _verdict(reason, answer, {**details, **more})
            first = first or (reason, more)
        assert first is not None
        return _verdict(first[0], answer, {**details, **first[1]})

    def _judge_boxes(self, gold: str, boxes: list[str], deadline: float) -> tuple[str, dict[str, Any]]:
        """Several different boxes: together they answer a multi-valued gold (exactly its
        values, any order); for a single-valued gold each must state the gold, else a hedge."""
        if is_multi(as_list(split_units(normalize_text(gold))[0])) or _SET_LITERAL.match(gold.strip()):
            reason, more = self._judge(gold, ", ".join(boxes), deadline)
            return reason, {**more, "boxes": len(boxes)}
        for box in boxes:
            reason, more = self._judge(gold, box, deadline)
            if reason != "correct":
                return ("hedged" if reason == "wrong_answer" else reason), {**more, "problem": "several_boxes"}
        return "correct", {"boxes": len(boxes)}

    def _judge(self, gold: str, answer: str, deadline: float) -> tuple[str, dict[str, Any]]:
        gval, gunit = split_units(normalize_text(gold))
        aval, aunit = split_units(unwrap(answer))
        if gunit and aunit and gunit != aunit:
            return "wrong_answer", {"unit_mismatch": [gunit, aunit]}
        if self.require_units and gunit and not aunit:
            return "wrong_answer", {"missing_unit": gunit}
        gval, aval = reduce_chain(as_list(scale_words(unwrap(gval))))[0], as_list(scale_words(aval))
        if is_hedge(aval, gval):
            return "hedged", {}
        aval, checks = reduce_chain(aval)
        if len(checks) > _MAX_BOXES:
            return "wrong_answer", {"chain_sides": len(checks) + 1}
        for value, side in checks:  # a chained equality is only as good as its falsest side
            if self._value(value, side, deadline)[0] != "correct":
                return "wrong_answer", {"false_side": side[:100]}
        (gbare, gpct), (abare, apct) = split_percent(gval), split_percent(aval)
        if gpct and apct:
            return self._value(gbare, abare, deadline)
        reason, more = self._value(gval, aval, deadline)
        if reason != "correct" and gpct != apct and fast_number(gbare) and fast_number(abare):
            # "20" vs "20\%" and "28\%" vs "28": the percent sign as a label, as math-verify reads it
            bare = self._value(gbare, abare, deadline)
            if bare[0] == "correct":
                return "correct", {**bare[1], "percent": "label"}
        return reason, more

    def _value(self, gold: str, answer: str, deadline: float) -> tuple[str, dict[str, Any]]:
        """Compare two unit-free, hedge-checked answers: string, exact number, then sympy."""
        if canonical(answer) == canonical(gold):
            return "correct", {"path": "string"}
        fg, fa = fast_number(gold), fast_number(answer)
        if fg is not None and fa is not None:
            if fg[0] == fa[0]:
                return "correct", {"path": "exact"}
            if not fg[1]:  # an exact gold needs an exact answer (see compare's precision rule)
                return "wrong_answer", {"path": "exact"}
        return self._sympy(plain_number_form(gold), plain_number_form(answer), deadline)

    def _sympy(self, gold: str, answer: str, deadline: float) -> tuple[str, dict[str, Any]]:
        req = {"gold": gold, "answer": answer}
        if self.timeout_s is None:
            from verifiers.math.compare import compare

            try:
                res = compare(gold, answer)
            except Exception as exc:  # noqa: BLE001 - hostile input must not escape
                return "parse_error", {"error": type(exc).__name__}
        else:
            left = deadline - time.monotonic()
            if left <= 0:  # several boxes or chain sides used the call's budget up
                return "timeout", {"timeout_s": self.timeout_s}
            try:
                res = get_pool(self.workers, self.memory_mb).run(req, left)
            except WorkerTimeout:
                return "timeout", {"timeout_s": self.timeout_s}
            except WorkerCrash as exc:
                return "parse_error", {"worker": str(exc)[:100]}
        reason = res.pop("reason", "parse_error")
        return (reason if reason in REASONS else "parse_error"), {"path": "sympy", **res}


def _verdict(reason: str, extracted: str, details: dict[str, Any], **more: Any) -> Verdict:
    ok = reason == "correct"
    return Verdict(reward=1.0 if ok else 0.0, correct=ok, reason=reason, extracted=extracted, details={**details, **more})


def _distinct(boxes: list[str | None]) -> list[str]:
    """The boxes' answers, unwrapped, first occurrence of each kept, in order."""
    out: dict[str, str] = {}
    for b in boxes:
        if b is not None and unwrap(b):
            out.setdefault(canonical(unwrap(b)), unwrap(b))
    return list(out.values())


def _golds(payload: dict[str, Any]) -> list[str] | None:
    raw = [payload.get("answer")] + list(payload.get("alternatives") or [])
    out = []
    for g in raw:
        if isinstance(g, bool) or not isinstance(g, (str, int, float)):
            return None
        s = str(g).strip()
        if not s or len(s) > _MAX_GOLD_CHARS:
            return None
        out.append(s)
    return out


def _check_fallbacks(fallbacks: Any) -> tuple[str, ...]:
    if isinstance(fallbacks, str) or not isinstance(fallbacks, (list, tuple)):
        raise TypeError("fallbacks must be a list of names")
    bad = [f for f in fallbacks if f not in FALLBACKS]
    if bad:
        raise ValueError(f"unknown fallbacks {bad}; known: {list(FALLBACKS)}")
    return tuple(fallbacks)
