"""Parse and validate an IFEval-format payload into checked constraints.

Payload: ``{"instruction_id_list": [...], "kwargs": [{...}, ...], "prompt": "..."}``
(``prompt`` optional; ``kwargs`` optional when no constraint takes arguments). The payload
may also arrive as a JSON string. Anything wrong raises ``InstructionPayloadError`` whose
one-line message names the problem; the verifier turns it into a ``bad_payload`` verdict
and a CLI can print it as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verifiers.instructions.registry import CHECKERS, KWARG_SPECS
from verifiers.instructions.schema import CROSS_CHECKS, UNSUPPORTED, is_null

_PROMPT_FALLBACK = "prompt_to_repeat"


class InstructionPayloadError(ValueError):
    """A payload that cannot be checked; ``str(exc)`` is a one-line explanation."""


@dataclass(frozen=True)
class Constraint:
    """One constraint id with its validated, non-null kwargs."""

    instruction_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def _as_object(payload: Any) -> dict[str, Any]:
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise InstructionPayloadError(f"invalid JSON payload: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise InstructionPayloadError(f"payload must be a JSON object, got {_kind(payload)}")
    return payload


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _check_kwargs(index: int, instruction_id: str, raw: Any, prompt: str | None) -> dict[str, Any]:
    where = f"constraint {index} ({instruction_id!r})"
    if is_null(raw):
        raw = {}
    if not isinstance(raw, dict):
        raise InstructionPayloadError(f"{where}: kwargs must be an object, got {_kind(raw)}")
    specs = KWARG_SPECS[instruction_id]
    given = {key: value for key, value in raw.items() if not is_null(value)}
    unexpected = sorted(str(key) for key in given if key not in specs)
    if unexpected:
        raise InstructionPayloadError(f"{where}: unexpected kwarg(s) {unexpected}; accepts {sorted(specs)}")
    if _PROMPT_FALLBACK in specs and _PROMPT_FALLBACK not in given and isinstance(prompt, str):
        given[_PROMPT_FALLBACK] = prompt
    kwargs: dict[str, Any] = {}
    for name, validate in specs.items():
        if name not in given:
            raise InstructionPayloadError(f"{where}: missing kwarg {name!r}")
        try:
            kwargs[name] = validate(given[name])
        except ValueError as exc:
            raise InstructionPayloadError(f"{where}: kwarg {name!r} {exc}") from None
    cross = CROSS_CHECKS.get(instruction_id)
    problem = cross(kwargs) if cross else None
    if problem:
        raise InstructionPayloadError(f"{where}: {problem}")
    return kwargs


def parse_payload(payload: Any) -> tuple[list[Constraint], str | None]:
    """Validate ``payload``; return its constraints and its prompt (or None)."""
    data = _as_object(payload)
    ids = data.get("instruction_id_list")
    if ids is None:
        raise InstructionPayloadError("payload has no 'instruction_id_list'")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InstructionPayloadError("'instruction_id_list' must be an array of strings")
    if not ids:
        raise InstructionPayloadError("'instruction_id_list' is empty")
    kwargs_list = data.get("kwargs")
    if kwargs_list is None:
        kwargs_list = [{}] * len(ids)
    if not isinstance(kwargs_list, list):
        raise InstructionPayloadError(f"'kwargs' must be an array of objects, got {_kind(kwargs_list)}")
    if len(kwargs_list) != len(ids):
        raise InstructionPayloadError(
            f"'kwargs' has {len(kwargs_list)} entries but 'instruction_id_list' has {len(ids)}"
        )
    prompt = data.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InstructionPayloadError(f"'prompt' must be a string, got {_kind(prompt)}")
    constraints = []
    for index, (instruction_id, raw) in enumerate(zip(ids, kwargs_list)):
        if instruction_id in UNSUPPORTED:
            raise InstructionPayloadError(
                f"instruction id {instruction_id!r} is not supported offline: {UNSUPPORTED[instruction_id]}"
            )
        if instruction_id not in CHECKERS:
            raise InstructionPayloadError(f"unknown instruction id {instruction_id!r}")
        constraints.append(Constraint(instruction_id, _check_kwargs(index, instruction_id, raw, prompt)))
    return constraints, prompt
