"""Find the final answer in a completion: cheap, regex and brace scanning only.

Everything here runs in the caller's process on hostile text, so it only looks at
a bounded tail of the completion and never backtracks over unbounded input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from verifiers.math.normalize import unwrap

FALLBACKS = ("answer_tag", "answer_line", "last_number")

# Applied before NFKC (which would turn "x²" into "x2" and "½" into "1⁄2").
_PRE_NFKC = {
    "²": "^{2}", "³": "^{3}", "¹": "^{1}", "⁴": "^{4}", "⁰": "^{0}", "⁻¹": "^{-1}",
    "½": "\\frac{1}{2}", "⅓": "\\frac{1}{3}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}",
    "⅔": "\\frac{2}{3}",
}
# Applied after NFKC.
_SYMBOLS = {
    "−": "-", "–": "-", "—": "-", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ", "÷": "\\div ",
    "π": "\\pi ", "∞": "\\infty ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\neq ", "±": "\\pm ",
    "∪": "\\cup ", "∩": "\\cap ", "∈": "\\in ", "°": "^\\circ ", "⁄": "/", "∅": "\\emptyset ",
    "θ": "\\theta ", "α": "\\alpha ", "β": "\\beta ", "∠": "\\angle ", "√": "\\sqrt",
    "\\varnothing": "\\emptyset ", "\\mathrm{e}": "e", "\\mathrm{i}": "i", "\\dfrac": "\\frac", "\\tfrac": "\\frac",
}
_PRE_RE = re.compile("|".join(map(re.escape, sorted(_PRE_NFKC, key=len, reverse=True))))
_SYM_RE = re.compile("|".join(map(re.escape, sorted(_SYMBOLS, key=len, reverse=True))))
# √ followed by a number, a letter or a parenthesised group -> \sqrt{...}
_SQRT_RE = re.compile(r"\\sqrt\s*(\d+(?:\.\d+)?|[A-Za-z]|\([^()]{0,80}\))")


def normalize_text(text: str) -> str:
    """NFKC plus a small symbol map so Unicode math reads as the LaTeX math-verify knows."""
    text = _PRE_RE.sub(lambda m: _PRE_NFKC[m.group(0)], text)
    text = unicodedata.normalize("NFKC", text)
    text = _SYM_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)

    def sqrt(m: re.Match[str]) -> str:
        arg = m.group(1)
        if arg.startswith("("):
            arg = arg[1:-1]
        return "\\sqrt{" + arg + "}"

    return _SQRT_RE.sub(sqrt, text)


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")


def find_boxed(text: str, max_boxes: int = 64) -> list[str | None]:
    """Contents of every ``\\boxed{...}`` in order; ``None`` marks an unbalanced box."""
    out: list[str | None] = []
    inside = -1  # end of the last complete box: boxes nested in it are part of its answer
    for m in _BOX_RE.finditer(text):
        if m.start() < inside:
            continue
        i = m.end()
        if i >= len(text):
            out.append(None)
            continue
        if text[i] != "{":
            # "\boxed 5": a single token up to whitespace or "$"
            tok = re.match(r"[^\s${}]+", text[i:])
            out.append(tok.group(0) if tok and m.group(0).endswith(" ") else None)
            continue
        depth, j = 0, i
        while j < len(text):
            c = text[j]
            if c == "\\":
                j += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append(text[i + 1 : j] if depth == 0 and j < len(text) else None)
        inside = j if depth == 0 else inside
        if len(out) >= max_boxes:
            break
    return out


_TAG_RE = re.compile(r"<answer>(.{0,4000}?)</answer>", re.DOTALL | re.IGNORECASE)
_LINE_RE = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*:?\s*(.+?)\s*$", re.IGNORECASE)
_NUM_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?")


def _clean(ans: str) -> str:
    ans = ans.strip().strip("$").strip()
    return ans[:-1].rstrip() if ans.endswith(".") else ans


def _fallback(text: str, kind: str) -> str | None:
    if kind == "answer_tag":
        tags = _TAG_RE.findall(text)
        return _clean(tags[-1]) if tags else None
    if kind == "answer_line":
        lines = [ln for ln in text.splitlines() if ln.strip()][-3:]
        for ln in reversed(lines):
            m = _LINE_RE.search(ln[-1000:])
            if m:
                return _clean(m.group(1))
        return None
    if kind == "last_number":
        nums = _NUM_RE.findall(text[-2000:])
        return nums[-1].replace(" ", "") if nums else None
    raise ValueError(f"unknown fallback {kind!r}; known: {', '.join(FALLBACKS)}")


# Minerva/MATH's "Final Answer: The final answer is $X$. I hope it is correct." (math-verify's
# top-priority pattern). Stated after the last box, it is the answer: earlier boxes were work.
# Nothing may follow the statement but "." and "I hope it is correct": "$5$ or $6$" is a hedge.
_FINAL_RE = re.compile(r"final answer is:?\s*\$([^$]{1,300})\$[ \t]*\.?[ \t]*(?:I hope\b|$)", re.IGNORECASE | re.MULTILINE)


def _final_statement(tail: str) -> str | None:
    last = None
    for m in _FINAL_RE.finditer(tail[-3000:]):
        last = m
    if last is None:
        return None
    start = len(tail) - len(tail[-3000:]) + last.start()
    if max(tail.rfind("\\boxed"), tail.rfind("\\fbox")) > start:
        return None
    return unwrap(_clean(last.group(1))) or None


@dataclass
class Extraction:
    """The final answer found in a completion, and how it was found."""

    answer: str | None
    source: str  # "boxed", "final_answer", one of FALLBACKS, or "none"
    boxes: list[str | None] = field(default_factory=list)
    problem: str | None = None  # "unbalanced_box" | "several_boxes"


def extract_answer(completion: str, fallbacks: tuple[str, ...] = ("answer_tag",), max_scan_chars: int = 6000) -> Extraction:
    """The final answer: a "final answer is $X$" stated after every box, else the last
    ``\\boxed{}``, else the first fallback that finds one."""
    tail = normalize_text(completion[-max_scan_chars:])
    boxes = find_boxed(tail)
    stated = _final_statement(tail)
    if stated is not None:
        return Extraction(stated, "final_answer", boxes)
    if boxes:
        last = boxes[-1]
        if last is None:
            return Extraction(None, "boxed", boxes, "unbalanced_box")
        distinct = {_squash(b) for b in boxes if b is not None}
        problem = "several_boxes" if len(distinct) > 1 else None
        return Extraction(unwrap(last), "boxed", boxes, problem)
    for kind in fallbacks:
        ans = _fallback(tail, kind)
        if ans:
            return Extraction(ans, kind)
    return Extraction(None, "none")


def _squash(s: str) -> str:
    return re.sub(r"\s+|\\[,;:! ]", "", unwrap(s))
