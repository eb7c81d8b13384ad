"""Helpers for third-party generators: a JSON codec for their problem state, and an RNG guard.

rlve-gym and reasoning-gym keep problems in tuples, sets and int-keyed dicts, and reseed
the process-wide RNGs; both adapters (and their verifiers) need the same two tools.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def encode_jsonable(obj: Any) -> Any:
    """Encode tuples, sets and non-string dict keys as tagged JSON so they round-trip."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, float, str)):
        return obj
    if isinstance(obj, list):
        return [encode_jsonable(x) for x in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_jsonable(x) for x in obj]}
    if isinstance(obj, (set, frozenset)):
        return {"__set__": [encode_jsonable(x) for x in sorted(obj, key=repr)]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_jsonable(v) for k, v in obj.items()}
        return {"__items__": [[encode_jsonable(k), encode_jsonable(v)] for k, v in obj.items()]}
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return encode_jsonable(obj.item())
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _hashable(x: Any) -> Any:
    return tuple(_hashable(i) for i in x) if isinstance(x, list) else x


def decode_jsonable(obj: Any) -> Any:
    """Inverse of :func:`encode_jsonable`."""
    if isinstance(obj, list):
        return [decode_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        if len(obj) == 1 and "__tuple__" in obj:
            return tuple(decode_jsonable(x) for x in obj["__tuple__"])
        if len(obj) == 1 and "__set__" in obj:
            return {_hashable(decode_jsonable(x)) for x in obj["__set__"]}
        if len(obj) == 1 and "__items__" in obj:
            return {_hashable(decode_jsonable(k)): decode_jsonable(v) for k, v in obj["__items__"]}
        return {k: decode_jsonable(v) for k, v in obj.items()}
    return obj


def try_encode(obj: Any) -> Any | None:
    """Encoded ``obj`` if it round-trips exactly, else None (then callers regenerate)."""
    try:
        encoded = encode_jsonable(obj)
        return encoded if decode_jsonable(encoded) == obj else None
    except (TypeError, ValueError, RecursionError):
        return None


@contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Save and restore python/numpy/torch global RNG state (and PYTHONHASHSEED)."""
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.get_rng_state() if torch is not None else None
    hash_seed = os.environ.get("PYTHONHASHSEED")
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if torch is not None and torch_state is not None:
            torch.set_rng_state(torch_state)
        if hash_seed is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = hash_seed
