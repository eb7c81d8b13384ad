"""String-level judgement of an extracted answer: units, hedges and the exact fast path.

math-verify strips units and happily parses "3 or 4" into a set; these checks run
first, on plain strings, so the common cases never need sympy or a worker process.
"""

from __future__ import annotations

import re
from fractions import Fraction

from verifiers.math.normalize import e_notation, join_thousands, repeating_decimal, split_percent, split_top

# Units a careful grader treats as part of the value. Bare (un-\text'ed) unit words are
# only recognised from this list so that "5x" stays an expression.
_ALIASES = {
    "meter": "m", "metre": "m", "meters": "m", "metres": "m",
    "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "millimeter": "mm", "millimeters": "mm", "kilometer": "km", "kilometers": "km",
    "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg",
    "second": "s", "seconds": "s", "sec": "s", "secs": "s", "minute": "min", "minutes": "min",
    "mins": "min", "hour": "h", "hours": "h", "hr": "h", "hrs": "h", "day": "day", "days": "day",
    "inch": "in", "inches": "in", "foot": "ft", "feet": "ft", "mile": "mi", "miles": "mi",
    "degree": "deg", "degrees": "deg", "^\\circ": "deg", "^{\\circ}": "deg", "\\circ": "deg",
    "liter": "l", "liters": "l", "litre": "l", "litres": "l", "dollar": "usd", "dollars": "usd",
    "\\$": "usd", "cent": "cent", "cents": "cent", "radian": "rad", "radians": "rad",
    "unit": "unit", "units": "unit", "square units": "unit^2", "sq units": "unit^2",
}
_BARE = sorted(
    set(_ALIASES)
    | {"m", "cm", "mm", "km", "kg", "mg", "g", "s", "ms", "min", "h", "ft", "mi", "mph", "km/h",
       "m/s", "l", "ml", "rad", "deg", "cm^2", "m^2", "cm^3", "m^3", "km^2", "ft^2", "in^2"},
    key=len,
    reverse=True,
)
_TEXT_CMD = r"\\(?:text|textrm|mathrm|mbox|operatorname|textnormal)\s*\{([^{}]{0,60})\}"
_TEXT_UNIT_RE = re.compile(r"\s*(?:\\[,;: ]\s*)*" + _TEXT_CMD + r"(\s*\^\s*\{?\d\}?)?\s*$")
_BARE_UNIT_RE = re.compile(
    r"(?<=[\d}\s])\s*(" + "|".join(re.escape(u) for u in _BARE) + r")\s*$", re.IGNORECASE
)
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?\s*$")


# "\text{5 apples}": a number and a unit word inside one text command (no hedge words).
_TEXT_NUMBER_RE = re.compile(r"^" + _TEXT_CMD.replace("([^{}]{0,60})", r"\s*(-?\d[\d.,]*)\s+([A-Za-z][A-Za-z .'-]{0,40}?)\s*") + "$")
# Words after a number that change its value or hedge it: never read as a unit.
_NOT_UNIT = re.compile(
    r"\b(?:or|and|not|than|plus|minus|times|over|more|less|to|of|divided|squared|cubed|root|power|factorial"
    r"|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|halfs?|halves|thirds?|quarters?|tenths?"
    r"|percent|percentage|pct|e|i|pi)\b",
    re.IGNORECASE,
)
_CURRENCY_RE = re.compile(r"^(?:\\\$|\$)\s*(?=-?\d)")


def split_units(answer: str) -> tuple[str, str | None]:
    """``"5\\text{ cm}"`` -> ``("5", "cm")``; the unit is None when the answer has none."""
    s = answer.strip()
    m = _TEXT_NUMBER_RE.match(s)
    if m and not _NOT_UNIT.search(m.group(2)):
        return m.group(1), _canon_unit(m.group(2))
    m = _CURRENCY_RE.match(s)
    if m:
        rest, unit = split_units(s[m.end() :])
        if unit in (None, "usd"):
            return rest, "usd"
    cut = max(0, len(s) - 120)  # units sit at the end: never scan (and backtrack over) the whole answer
    m = _DEGREE_RE.search(s, cut)
    if m and m.start() > 0:
        return s[: m.start()].strip(), "deg"
    m = _TEXT_UNIT_RE.search(s, cut)
    if m and re.search(r"\d", s[: m.start()]):
        unit = (m.group(1).strip() + re.sub(r"[\s{}]", "", m.group(2) or "")).strip()
        if unit and not _NOT_UNIT.search(unit) and not _PCT_WORD.fullmatch(unit):
            return s[: m.start()].strip(), _canon_unit(unit)
    m = _BARE_UNIT_RE.search(s, cut)
    if m and re.search(r"\d", s[: m.start()]):
        return s[: m.start()].strip(), _canon_unit(m.group(1))
    return s, None


_PCT_WORD = re.compile(r"percent|percentage|pct|\\%", re.IGNORECASE)


def _canon_unit(unit: str) -> str:
    u = re.sub(r"\s+", " ", unit.strip()).lower()
    return _ALIASES.get(u, u)


_HEDGE_WORD = re.compile(r"(?:\bor\b|\band\b|\\lor\b|\\vee\b)", re.IGNORECASE)
# Golds that are relations or sets: a union or an "or" is a legitimate way to answer them.
_SETLIKE = re.compile(r"[<>]|\\[lg]eq?\b|\\in\b|\\\{|\\cup|\\cap|\\infty|\\emptyset|\\mathbb|\\setminus")


# MATH's own thousands separators, never list separators: "10,\\!000", "14{,}916".
_MATH_THOUSANDS = re.compile(r"(?<=\d)(?:,\\!\s*|\{,\})(?=\d{3})")


def _top_level_commas(s: str) -> int:
    return len(split_top(s, ",")) - 1 + len(split_top(s, ";")) - 1


def is_multi(s: str) -> bool:
    """Does this answer list several values (top-level commas, "or", "and", "\\pm", "\\cup")?"""
    if join_thousands(s) is not None:
        return False
    s = _MATH_THOUSANDS.sub("", s)
    return (
        _top_level_commas(s) > 0
        or bool(_HEDGE_WORD.search(s))
        or "\\pm" in s
        or "\\mp" in s
        or "\\cup" in s
    )


def is_hedge(answer: str, gold: str) -> bool:
    """An answer that offers several values where the gold is one plain value is a hedge.

    The gold counts as several values if it has a comma at any depth (sets, tuples,
    intervals) and as a set if it is a relation or set notation (``|x|>1`` may be
    answered by a union), so only answers to single plain values are ever called hedges.
    """
    if is_multi(gold) or ("," in gold and join_thousands(gold) is None) or _SETLIKE.search(gold):
        return False
    return is_multi(answer)


_NUM = re.compile(r"^(-?)(\d+(?:\.\d+)?)$")
_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(\d+)\}$|^(-?)(\d+)/(\d+)$")
_ASSIGN = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*")


def fast_number(s: str) -> tuple[Fraction, bool] | None:
    """Exact value of a plain number / fraction / percentage, and whether it is a decimal.

    Thousands separators are read before spaces are dropped, so ``32, 349`` is a list
    (None here), not 32349. Repeating decimals are exact; e-notation is a decimal.
    Returns None for anything else, which then goes to math-verify.
    """
    t = s.strip().strip("$")
    t = _ASSIGN.sub("", t, count=1)
    t = re.sub(r"\\left|\\right", "", t).strip()
    t, pct = split_percent(t)
    if len(t) > 40:
        return None
    t = join_thousands(t) or t
    rep = repeating_decimal(t)
    if rep is not None:
        return (rep / 100 if pct else rep), False
    e = e_notation(t)
    if e is not None:
        return (e[0] / 100 if pct else e[0]), True
    t = re.sub(r"\s+|\\[,;:! ]", "", t)
    m = _NUM.match(t)
    if m:
        val, dec = Fraction(m.group(2)), "." in m.group(2)
        val = -val if m.group(1) else val
    else:
        m = _FRAC.match(t)
        if not m:
            return None
        sign, a, b = (m.group(1), m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5), m.group(6))
        if int(b) == 0:
            return None
        val, dec = Fraction(int(a), int(b)) * (-1 if sign else 1), False
    return (val / 100 if pct else val), dec


def canonical(s: str) -> str:
    """A conservative canonical string: equal canonical strings are the same answer."""
    t = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    t = re.sub(r"\s+|\\[,;:! ]|\\left|\\right|\$", "", t)
    return t
