"""String rewrites of one extracted answer before it is judged: cheap, bounded, never raising.

Each rewrite turns a notation math-verify misreads (or that our hedge guards misjudge)
into a plain one: formatting wrappers, MATH's ``10,\\!000`` thousands, ``0.\\overline{3}``,
``1.2e5``, percent words, "and"-separated lists, and chained equalities.
"""

from __future__ import annotations

import re
from fractions import Fraction

_LEAD_SPACE = re.compile(r"^(?:\s|\\[,;:! ]|\\q?quad(?![A-Za-z])|~)+")
_TRAIL_TOKENS = ("\\qquad", "\\quad", "\\,", "\\;", "\\:", "\\!", "\\ ", "~")


def _strip_spacing(s: str) -> str:
    """Strip whitespace and LaTeX spacing commands at both ends, in linear time."""
    t = _LEAD_SPACE.sub("", s)
    end = len(t)
    while end:
        if t[end - 1].isspace():
            end -= 1
            continue
        tok = next((k for k in _TRAIL_TOKENS if t.endswith(k, 0, end) and not t.endswith("\\" + k, 0, end)), None)
        if tok is None:
            break
        end -= len(tok)
    return t[:end]
_WRAPPERS = ("mathbf", "textbf", "bm", "boldsymbol", "boxed", "fbox", "mathit", "textit", "emph", "underline")
_WRAP_RE = re.compile(r"^\\(" + "|".join(_WRAPPERS) + r")\s*\{")


def _close(s: str, i: int) -> int:
    """Index of the brace closing the ``{`` at ``i`` (``-1`` when unbalanced)."""
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        depth += c == "{"
        depth -= c == "}"
        if depth == 0:
            return j
        j += 1
    return -1


def unwrap(s: str) -> str:
    """Drop formatting around a whole answer: ``\\mathbf{9}``, ``\\; 12 \\;``, ``\\boxed{\\boxed{2}}``."""
    for _ in range(8):
        t = _strip_spacing(s)
        t = re.sub(r"^\\displaystyle\s*", "", t)
        if len(t) >= 2 and t[0] == "$" and t[-1] == "$" and "$" not in t[1:-1]:
            t = t[1:-1].strip()
        m = _WRAP_RE.match(t)
        if m and _close(t, m.end() - 1) == len(t) - 1:
            t = t[m.end() : -1]
        if t == s:
            return t
        s = t
    return s


# a thousands separator: ",", "{,}", ",\!" (MATH; may be followed by spaces), "\," or "\ " (thin space).
# A plain comma followed by a space is a list separator, never a thousands separator.
_SEP = r"(?:,\\!\s*|\{,\}|,|\\,|\\ )"
_THOUSANDS_RE = re.compile(r"^(-?)(\d{1,3})((?:" + _SEP + r"\d{3})+)(\.\d+)?$")


def join_thousands(s: str) -> str | None:
    """``"10,\\!000"`` / ``"12\\,345"`` / ``"1,000.5"`` -> the plain number; None if ``s`` is not one."""
    m = _THOUSANDS_RE.match(s.strip())
    if not m:
        return None
    return m.group(1) + m.group(2) + re.sub(r"\D", "", m.group(3)) + (m.group(4) or "")


_REPEAT_RE = re.compile(r"^(-?)(\d*)\.(\d*)\\overline\s*\{?(\d{1,12})\}?$")
_ENOT_RE = re.compile(r"^(-?\d+(?:\.\d+)?)[eE]([+-]?\d{1,3})$")


def repeating_decimal(s: str) -> Fraction | None:
    """``0.\\overline{3}`` -> 1/3, ``0.1\\overline{6}`` -> 1/6; None for anything else."""
    m = _REPEAT_RE.match(s.strip())
    if not m:
        return None
    sign, whole, fixed, rep = m.groups()
    val = Fraction(int(whole or "0")) + Fraction(int(fixed or "0"), 10 ** len(fixed))
    val += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
    return -val if sign else val


def e_notation(s: str) -> tuple[Fraction, str] | None:
    """``1.2e5`` -> (120000, mantissa); None unless the whole answer is one e-notation number."""
    m = _ENOT_RE.match(s.strip())
    if not m:
        return None
    return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2)), m.group(1)


def plain_number_form(s: str) -> str:
    """Rewrite a whole-answer number math-verify cannot read into one it can (or leave it)."""
    t = s.strip()
    joined = join_thousands(t)
    if joined is not None:
        return joined
    rep = repeating_decimal(t)
    if rep is not None:
        return f"\\frac{{{rep.numerator}}}{{{rep.denominator}}}"
    e = e_notation(t)
    if e is not None:
        m = _ENOT_RE.match(t)
        assert m is not None
        return f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}"
    return t


_PCT_RE = re.compile(r"(?:\\%|%|\\text\{\s*(?:percent|percentage|pct)\s*\}|\b(?:percent|percentage|pct)\b)\s*$", re.I)


def split_percent(s: str) -> tuple[str, bool]:
    """``"28\\%"`` / ``"28 percent"`` -> ``("28", True)``; other answers -> ``(s, False)``."""
    cut = max(0, len(s) - 40)  # the sign is at the end: never scan the whole answer
    m = _PCT_RE.search(s, cut)
    value = unwrap(s[: m.start()]) if m else ""
    if value and re.search(r"[\d}]$", value):
        return value, True
    return s, False


_AND_RE = re.compile(r"[ \t]*,?[ \t]*(?:\\text\{\s*,?\s*and\s*\}|\\quad\s*\\text\{\s*and\s*\}\s*\\quad|\band\b)\s*", re.I)


def as_list(s: str) -> str:
    """``"6 \\text{ and } 8"`` / ``"19, 46, and 82"`` -> comma lists (only at brace depth 0)."""
    if "and" not in s:
        return s
    out, last, depth, pos = [], 0, 0, 0
    for m in _AND_RE.finditer(s):
        depth, pos = _depth(s, pos, m.start(), depth)
        if depth == 0 and m.start() >= last:
            out.append(s[last : m.start()] + ", ")
            last = m.end()
    return "".join(out) + s[last:] if out else s


def _depth(s: str, start: int, end: int, depth: int) -> tuple[int, int]:
    """Brace depth at ``end`` and where the scan stopped, continuing from ``depth`` at ``start``."""
    i = start
    while i < end:
        c = s[i]
        if c == "\\":
            depth += s[i + 1 : i + 2] == "{"
            depth -= s[i + 1 : i + 2] == "}"
            i += 2
            continue
        depth += c in "({["
        depth -= c in ")}]"
        i += 1
    return depth, i


def split_top(s: str, sep: str) -> list[str]:
    """Split at ``sep`` characters outside braces/brackets, ignoring escaped ones (``\\,``)."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            depth += s[i + 1 : i + 2] == "{"
            depth -= s[i + 1 : i + 2] == "}"
            cur.append(s[i : i + 2])
            i += 2
            continue
        depth += c in "({["
        depth -= c in ")}]"
        if c == sep and depth == 0 and not (sep == "=" and _relational_eq(s, i)):
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _relational_eq(s: str, i: int) -> bool:
    """Is the ``=`` at ``i`` part of ``<=``, ``>=``, ``!=``, ``==`` or ``:=``?"""
    return (i > 0 and s[i - 1] in "<>!=:") or (i + 1 < len(s) and s[i + 1] == "=")


_NUMERIC_CMD = re.compile(
    r"\\(?:d?t?c?frac|sqrt|pi|cdot|times|div|left|right|infty|circ|%|[,;:! ]|log|ln|lg|exp|a?r?c?(?:sin|cos|tan)h?"
    r"|sec|csc|cot|[dt]?binom|[lr]floor|[lr]ceil|pm|mp)(?![A-Za-z])"
)


def is_constant(side: str) -> bool:
    """A side with no variable in it (``2+2``, ``\\frac{1}{2}``, ``3\\sqrt2``): it has a checkable value."""
    t = _NUMERIC_CMD.sub("", side)
    return bool(re.search(r"\d", t) or "\\pi" in side) and not re.search(r"[A-Za-z\\]", t)


def chain_sides(item: str) -> list[str]:
    """The sides of a chained equality ``a = b = c`` (one element when there is no ``=``)."""
    return [p.strip() for p in split_top(item, "=")]


def reduce_chain(answer: str) -> tuple[str, list[tuple[str, str]]]:
    """Chained equalities, item by item: ``x = 5+5+1 = 11`` -> ``x = 11`` plus the checks
    ``[("11", "5+5+1")]`` that every variable-free side must pass (``2 + 2 = 5`` fails one).

    A side after the first is cut at ``\\approx`` (the approximation is commentary).
    """
    items = split_top(answer, ",")
    if len(items) > 32:
        return answer, []
    out, checks, changed = [], [], False
    for item in items:
        sides = [re.split(r"\\approx(?![A-Za-z])", x)[0].strip() if k else x for k, x in enumerate(chain_sides(item))]
        if len(sides) < 2 or not all(sides) or any(";" in x for x in sides):
            out.append(item)
            continue
        consts = [x for x in sides if is_constant(x)]
        value = consts[-1] if consts else sides[-1]
        checks += [(value, c) for c in dict.fromkeys(consts[:-1]) if c != value]
        if len(sides) == 2 and len(consts) < 2:
            new = item if "\\approx" not in item else f"{sides[0]} = {sides[1]}"
        else:
            new = value if is_constant(sides[0]) else f"{sides[0]} = {value}"
        changed |= new != item
        out.append(new)
    return (",".join(out) if changed else answer), checks


_SCALES = {"hundred": "100", "thousand": "1000", "million": "10^{6}", "billion": "10^{9}", "trillion": "10^{12}",
           "dozen": "12", "squared": None, "cubed": None}
_SCALE_RE = re.compile(
    r"^(.*?[\d}])\s*(?:\\[a-z]+\s*\{\s*(" + "|".join(_SCALES) + r")s?\s*\}|\b(" + "|".join(_SCALES) + r")s?\b)\s*$",
    re.IGNORECASE | re.DOTALL,
)


def scale_words(s: str) -> str:
    """``5 \\text{ thousand}`` -> ``5 \\times 1000``, ``3 squared`` -> ``(3)^{2}``: math-verify
    would drop the word as a unit and read 5 (a wrong answer to gold 5 scored right)."""
    t = s.strip()
    if len(t) > 400:
        return s
    whole = re.match(r"^\\(?:text|textrm|mathrm|mbox)\s*\{\s*(-?\d[\d.,]*\s+[A-Za-z]+)\s*\}$", t)
    m = _SCALE_RE.match(whole.group(1) if whole else t)
    if not m:
        return s
    word = (m.group(2) or m.group(3)).lower()
    num = m.group(1).strip()
    if word in ("squared", "cubed"):
        return f"({num})^{{{2 if word == 'squared' else 3}}}"
    return f"{num} \\times {_SCALES[word]}"
