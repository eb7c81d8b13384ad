"""LiveCodeBench's compressed test cases, decoded without trusting the pickle.

``private_test_cases`` in ``livecodebench/code_generation_lite`` is
``base64(zlib(pickle(json_text)))``: a pickled *string* holding the JSON list of tests
(older rows hold the JSON text directly). The pickle layer is read by an Unpickler that
refuses every global, so a crafted row can build plain data at most, never run code.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from typing import Any

MAX_DECOMPRESSED = 1 << 30  # a zlib bomb stops here instead of filling memory


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing global {module}.{name} in test data")


def decode_compressed(value: str) -> Any:
    """JSON text, or base64-zlib-pickle of JSON text -> the decoded data (None if neither)."""
    text = value.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            return None
    try:
        raw = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, MAX_DECOMPRESSED)
        if inflater.unconsumed_tail:
            return None
        obj = _DataOnlyUnpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - malformed bytes can fail in any of the three layers
        return None
    if isinstance(obj, (bytes, str)):
        try:
            return json.loads(obj)
        except ValueError:
            return None
    return obj
