"""The sympy part: math-verify's equivalence plus an independent check of what it accepts.

This module runs inside a killable worker process (see ``pool``), so nothing here
needs its own timeout. math-verify compares numbers with absolute rounding, which
accepts 1/2004! for 1/2006! and 2e-20 for 1e-20; every "equal" it returns is re-checked
by high-precision evaluation (at fixed points for expressions with symbols) and, for
equations, by comparing both sides rather than only ``lhs - rhs``.

Precision rule. math-verify rounds both sides to ``float_rounding=6`` decimal places
whenever one side is a float, so it accepts ``0.666667`` for 2/3 and ``0.3333333`` for
1/3 (its stated aim). We keep that rounding only where the *gold* is a decimal: then the
gold's own digits are the precision asked for, and the re-check is a relative 2e-6,
never looser than math-verify's. Where the gold is exact (integer, fraction, surd,
pi...), a decimal answer is read as the exact decimal it was written as and must equal
the gold exactly: 0.5 and 0.125 are right for 1/2 and 1/8, but a truncated or rounded
expansion of a non-terminating value (0.666667, 0.3333333, 1.414214 for sqrt 2) is
wrong at any length, because a reward that accepts truncation pays for guessing digits.
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy as sp
from math_verify import LatexExtractionConfig, parse, verify
from sympy.matrices import MatrixBase

_CFG = (LatexExtractionConfig(boxed_match_priority=0),)
_DIGITS = 60
_EXACT_TOL = mpmath.mpf("1e-40")
_FLOAT_TOL = mpmath.mpf("2e-6")


def parse_answer(text: str) -> list[Any]:
    """math-verify's parse of one bare answer (we extracted it already)."""
    return parse("\\boxed{" + text + "}", list(_CFG), parsing_timeout=None)


def _first_sympy(items: list[Any]) -> Any | None:
    return next((x for x in items if isinstance(x, (sp.Basic, MatrixBase))), None)


def _points(exprs: list[Any]) -> list[dict[Any, Any]]:
    syms = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    if not syms:
        return [{}]
    return [{s: sp.Rational(3 + 2 * i, 7) + sp.Rational(5 * k, 13) for i, s in enumerate(syms)} for k in range(3)]


def _num(e: Any, pt: dict[Any, Any]) -> Any | None:
    """The value of ``e`` at ``pt`` as an mpmath complex, or None if it has no finite value."""
    try:
        v = sp.N((e.subs(pt) if pt else e).doit(), _DIGITS)
        re_, im_ = v.as_real_imag()
        if not (re_.is_Number and im_.is_Number and re_.is_finite and im_.is_finite):
            return None
        with mpmath.workdps(_DIGITS + 10):
            return mpmath.mpc(mpmath.mpf(str(re_)), mpmath.mpf(str(im_)))
    except Exception:  # noqa: BLE001 - unevaluable means "cannot judge", not an error
        return None


def _close(g: Any, a: Any, tol: Any) -> bool:
    with mpmath.workdps(_DIGITS + 10):
        scale = max(abs(g), abs(a))
        return bool(abs(g - a) <= tol * scale) if scale != 0 else True


def _exact_decimals(e: Any) -> Any:
    """Every Float in ``e`` as the exact decimal it was written as (``0.666667`` -> 666667/10^6)."""

    def rational(f: Any) -> Any:
        try:
            return sp.Rational(str(f))
        except Exception:  # noqa: BLE001 - leave an odd float alone; it then cannot match exactly
            return f

    return e.replace(lambda x: isinstance(x, sp.Float), rational)


def _value_agree(g: Any, a: Any) -> bool:
    if g.has(sp.Float):
        tol = _FLOAT_TOL  # a decimal gold: its digits set the precision (math-verify's rounding)
    else:
        a, tol = (_exact_decimals(a) if a.has(sp.Float) else a), _EXACT_TOL
    for pt in _points([g, a]):
        gv, av = _num(g, pt), _num(a, pt)
        if gv is None or av is None:
            continue  # cannot judge numerically here; math-verify's word stands
        if not _close(gv, av, tol):
            return False
    return True


def _eq_agree(g: sp.Eq, a: sp.Eq) -> bool:
    if g.free_symbols != a.free_symbols:
        return False
    dg, da = g.lhs - g.rhs, a.lhs - a.rhs
    pts = _points([dg, da])
    vals = [(_num(dg, p), _num(da, p)) for p in pts]
    if any(x is None or y is None for x, y in vals):
        return True
    tol = _FLOAT_TOL if (g.has(sp.Float) or a.has(sp.Float)) else _EXACT_TOL
    if all(abs(x) <= tol and abs(y) <= tol for x, y in vals):
        # both sides identities ("x = x", "0 = 0"): compare the sides themselves
        same = _value_agree(g.lhs, a.lhs) and _value_agree(g.rhs, a.rhs)
        swapped = _value_agree(g.lhs, a.rhs) and _value_agree(g.rhs, a.lhs)
        return same or swapped
    ratios = []
    for x, y in vals:
        if abs(y) <= tol:
            if abs(x) > tol:
                return False
            continue
        ratios.append(x / y)
    return bool(ratios) and ratios[0] != 0 and all(_close(r, ratios[0], tol) for r in ratios)


def agree(g: Any, a: Any) -> bool:
    """Independent check of a math-verify "equal"; True where we cannot tell."""
    if isinstance(g, MatrixBase) and isinstance(a, MatrixBase):
        return g.shape == a.shape and all(agree(x, y) for x, y in zip(g, a))
    if isinstance(g, sp.Eq) and isinstance(a, sp.Eq):
        return _eq_agree(g, a)
    if isinstance(g, sp.FiniteSet) and isinstance(a, sp.FiniteSet):
        rest = list(a.args)
        for x in g.args:
            hit = next((y for y in rest if agree(x, y)), None)
            if hit is None:
                return False
            rest.remove(hit)
        return not rest
    if isinstance(g, sp.Tuple) and isinstance(a, sp.Tuple):
        return len(g) == len(a) and all(agree(x, y) for x, y in zip(g, a))
    if isinstance(g, sp.Interval) and isinstance(a, sp.Interval):
        return (
            g.left_open == a.left_open
            and g.right_open == a.right_open
            and agree(g.start, a.start)
            and agree(g.end, a.end)
        )
    if isinstance(g, sp.Expr) and isinstance(a, sp.Expr):
        return _value_agree(g, a)
    return True


def _is_single(x: Any) -> bool:
    return isinstance(x, sp.Expr) and not isinstance(x, (sp.Tuple,))


def compare(gold: str, answer: str) -> dict[str, Any]:
    """Judge ``answer`` against ``gold`` (both unit-free bare answers)."""
    g_items, a_items = parse_answer(gold), parse_answer(answer)
    g, a = _first_sympy(g_items), _first_sympy(a_items)
    shown = str(a)[:200] if a is not None else None
    if not a_items or (a is None and g is not None):
        return {"reason": "parse_error", "parsed": shown}
    if g is not None and _is_single(g) and isinstance(a, sp.FiniteSet) and len(a) > 1:
        return {"reason": "hedged", "parsed": shown}
    if not verify(g_items, a_items, timeout_seconds=None, allow_set_relation_comp=True):
        return {"reason": "wrong_answer", "parsed": shown}
    if g is not None and a is not None and not agree(g, a):
        return {"reason": "wrong_answer", "parsed": shown, "override": "independent_check"}
    return {"reason": "correct", "parsed": shown}
