"""Agreement of the ``math`` verifier with math-verify's own test labels, vs raw math-verify; prints JSON.

Cases: ``tests/data/math_verify_cases.jsonl``, (gold, completion, expected) pairs derived from
the parametrised equivalence tests of huggingface/Math-Verify (``tests/``), with each gold
reduced to the bare answer a dataset stores. Raw math-verify is
``verify(parse("$" + gold + "$"), parse(completion))`` with library defaults. Hack cases are
every case in the math tests that must not be rewarded (``WRONG`` in test_math_verifier,
``HACKS`` and each family's false-positive twin in test_math_fidelity); a hack counts as
rejected when the verdict is not correct. Cases marked ``policy`` carry math-verify's label
where issue 14's hack rule overrides it (a chained equality with a false side): agreement
is reported with and without them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from math_verify import parse, verify  # noqa: E402

from verifiers.math import MathVerifier  # noqa: E402


def _raw(gold: str, completion: str) -> bool:
    try:
        return bool(verify(parse("$" + gold + "$"), parse(completion)))
    except Exception:  # noqa: BLE001 - a raising baseline counts as "not equal"
        return False


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location("_" + name, ROOT / "tests" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _hack_cases() -> list[tuple[str, str]]:
    rows = [(g, c) for g, c, _ in _load("test_math_verifier").WRONG]
    fidelity = _load("test_math_fidelity")
    rows += list(fidelity.HACKS)
    return rows + [(g, bad) for _, g, _, bad in fidelity.FAMILIES]


def _score(judge: Any, cases: list[dict[str, Any]]) -> dict[str, Any]:
    agree, fp, fn, misses, judged = 0, 0, 0, [], []
    for c in cases:
        got = judge(c["gold"], c["completion"])
        judged.append(got)
        if got == c["expected"]:
            agree += 1
        else:
            fp += got and not c["expected"]
            fn += (not got) and c["expected"]
            misses.append({"gold": c["gold"][:80], "completion": c["completion"][-80:], "expected": c["expected"]})
    plain = [c for c, m in zip(cases, judged) if "policy" not in c]
    plain_agree = sum(m == c["expected"] for c, m in zip(cases, judged) if "policy" not in c)
    return {"agreement": round(agree / len(cases), 4), "agree": agree, "false_positives": fp,
            "false_negatives": fn, "agreement_without_policy_cases": round(plain_agree / len(plain), 4),
            "misses": misses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(ROOT / "tests" / "data" / "math_verify_cases.jsonl"))
    ap.add_argument("--show-misses", action="store_true", help="list each disagreement")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    cases = [json.loads(line) for line in Path(args.cases).read_text().splitlines() if line.strip()]
    mv = MathVerifier(timeout_s=10.0)
    mv.warmup()

    def ours(gold: str, completion: str) -> bool:
        return mv.verify(completion, {"answer": gold}).correct

    t0 = time.monotonic()
    res_ours = _score(ours, cases)
    t1 = time.monotonic()
    res_raw = _score(_raw, cases)
    t2 = time.monotonic()
    hacks = _hack_cases()
    out = {"cases": len(cases), "positives": sum(c["expected"] for c in cases),
           "policy_cases": sum("policy" in c for c in cases), "hack_cases": len(hacks)}
    for name, res, judge, dt in (("ours", res_ours, ours, t1 - t0), ("raw_math_verify", res_raw, _raw, t2 - t1)):
        if not args.show_misses:
            res.pop("misses")
        res["hacks_rejected"] = sum(not judge(g, c) for g, c in hacks)
        res["seconds"] = round(dt, 2)
        out[name] = res
    out["agreement_ratio_ours_vs_raw"] = round(res_ours["agreement"] / res_raw["agreement"], 4)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
