"""One verifier is built without importing the others: the name -> module table stays
equal to what each module registers, and ``cascade verify math`` skips the instruction
checkers' heavy imports (NLTK, pandas, datasets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verifiers.base import _VERIFIERS, list_verifiers
from verifiers.builtin import MODULES

ROOT = Path(__file__).resolve().parents[1]


def test_table_names_every_builtin_verifier_and_its_module():
    names = set(list_verifiers())
    builtin = {n for n in names if _VERIFIERS[n].__module__.startswith("verifiers.")
               and not _VERIFIERS[n].__module__.startswith("verifiers.pool")}
    assert builtin <= set(MODULES), f"add to verifiers.builtin.MODULES: {sorted(builtin - set(MODULES))}"
    for name, module in MODULES.items():
        assert _VERIFIERS[name].__module__.startswith(module), (name, _VERIFIERS[name].__module__)


def test_one_verifier_imports_only_its_module():
    script = ("import sys; from verifiers.base import get_verifier, list_verifiers; get_verifier('math')\n"
              "print(sorted(m for m in ('nltk', 'pandas', 'datasets', 'verifiers.instructions', 'verifiers.code')"
              " if m in sys.modules))\n"
              "list_verifiers(); print('verifiers.instructions' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
