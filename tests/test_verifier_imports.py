"""One verifier is built without importing the others: the declared ``module:qualname`` table
(verifiers/__init__.py) stays equal to what each module registers, and ``cascade verify math`` skips the instruction
checkers' heavy imports (NLTK, pandas, datasets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verifiers import BUILTIN_VERIFIERS, verifier_class

ROOT = Path(__file__).resolve().parents[1]


def test_table_names_every_builtin_verifier_and_its_module():
    for name, path in BUILTIN_VERIFIERS.items():
        module, qualname = path.split(":")
        cls = verifier_class(name)
        assert (cls.__module__, cls.__qualname__) == (module, qualname), name


def test_one_verifier_imports_only_its_module():
    script = ("import sys; from verifiers.base import get_verifier, list_verifiers; get_verifier('math')\n"
              "print(sorted(m for m in ('nltk', 'pandas', 'datasets', 'verifiers.instructions', 'verifiers.code')"
              " if m in sys.modules))\n"
              "print('instructions' in list_verifiers() and 'verifiers.instructions' not in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
