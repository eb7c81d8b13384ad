"""Pure judging rules for code tasks: code extraction and output comparison.

Everything here runs outside the sandbox on plain data, so nothing a program prints
or returns can change how it is compared.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_FENCE = re.compile(r"^[ \t]*(`{3,})[ \t]*([^\n`]*)$", re.M)
TOL = 1e-6
_INT = re.compile(r"[+-]?\d+")


def fenced_blocks(completion: str) -> list[tuple[str, str]]:
    """Every closed fenced block as (language tag, content); CRLF normalised.

    An unclosed final block (a truncated completion) counts as if closed at the end.
    """
    text = completion.replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[tuple[str, str]] = []
    open_fence: tuple[str, str, int] | None = None
    for m in _FENCE.finditer(text):
        fence, info = m.group(1), m.group(2).strip()
        if open_fence is None:
            open_fence = (fence, info, m.end())
        elif len(fence) >= len(open_fence[0]) and not info:
            tag = open_fence[1].split()[0].lower() if open_fence[1] else ""
            blocks.append((tag, text[open_fence[2] + 1 : m.start()]))
            open_fence = None
    if open_fence is not None:
        tag = open_fence[1].split()[0].lower() if open_fence[1] else ""
        blocks.append((tag, text[open_fence[2] + 1 :]))
    return blocks


def extract_code(completion: str) -> str | None:
    """The last fenced block opened with ```python, else the whole text; None if empty.

    A later fenced block of another language does not count.
    """
    code = None
    for tag, body in fenced_blocks(completion):
        if tag.startswith("python"):
            code = body
    if code is None:
        code = completion.replace("\r\n", "\n").replace("\r", "\n")
    return code if code.strip() else None


def extract_answer_block(completion: str, tag: str) -> str | None:
    """The last fenced block tagged ``tag`` (or untagged); None when there is none."""
    found = None
    for block_tag, body in fenced_blocks(completion):
        if block_tag in (tag, ""):
            found = body
    return found


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _token_equal(got: str, want: str) -> bool:
    if got == want:
        return True
    if _INT.fullmatch(want):
        return False  # an expected integer must match exactly
    try:
        g, w = float(got), float(want)
    except ValueError:
        return False
    if math.isnan(g) or math.isnan(w) or math.isinf(w) or math.isinf(g):
        return False
    return abs(g - w) <= TOL or abs(g - w) <= TOL * abs(w)


def outputs_match(got: str, want: str) -> bool:
    """stdin/stdout judging: per-line trailing whitespace and trailing empty lines ignored,
    lines matched one for one, differing lines compared token by token."""
    g, w = _lines(got), _lines(want)
    if len(g) != len(w):
        return False
    for gl, wl in zip(g, w):
        if gl == wl:
            continue
        gt, wt = gl.split(), wl.split()
        if len(gt) != len(wt) or not all(_token_equal(a, b) for a, b in zip(gt, wt)):
            return False
    return True


def values_match(got: Any, want: Any) -> bool:
    """Call-based judging: lists equal tuples, dicts by keys and values, floats within
    the tolerance, ints and strings exactly, bools only equal bools."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, float) or (isinstance(got, float) and isinstance(want, int)):
        if not isinstance(got, (int, float)):
            return False
        if isinstance(want, int):
            return False  # an expected integer must match exactly; 3.0 is not 3
        return _token_equal(repr(float(got)), repr(want))
    if isinstance(want, int):
        return type(got) is int and got == want
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    if want is None:
        return got is None
    if isinstance(want, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(want) and all(
            values_match(a, b) for a, b in zip(got, want)
        )
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            values_match(got[k], want[k]) for k in want
        )
    return False


def parse_call_result(stdout: bytes) -> tuple[bool, Any]:
    """Decode the prelude's result line: (True, value) for JSON data, else (False, None)."""
    text = stdout.decode("utf-8", "replace")
    if not text.startswith("JSON "):
        return False, None
    try:
        return True, json.loads(text[5:])
    except (ValueError, RecursionError):
        return False, None
