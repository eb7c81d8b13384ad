"""The ``curriculum:`` section: kind and options as a discriminated union, plus ``calibrate:``.

Each kind has its own options model, so an option of the wrong controller, a typo or a
wrong type is a load-time error naming its key path. The models mirror the keyword
arguments of ``envs.curriculum.make_curriculum`` and the controllers it builds; a test
checks they stay in step.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalibrateSettings(_Strict):
    """Place each environment near ``target`` pass rate for the starting policy before training.

    ``rounds`` Thompson-sampling probes per environment, each ``group_size`` rollouts of one
    task at the probed difficulty, searched in ``[lo, hi]`` (within the env's own bounds).
    """

    lo: int = Field(0, ge=0)
    hi: int = Field(20, ge=0)
    rounds: int = Field(6, ge=1)
    group_size: int = Field(8, ge=1)
    target: float = Field(0.5, gt=0, lt=1)
    seed: int = 0
    max_new_tokens: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "CalibrateSettings":
        if self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) must not exceed hi ({self.hi})")
        return self

    def calibrate_kwargs(self) -> dict[str, Any]:
        """The arguments of ``Curriculum.calibrate`` (everything but how rollouts are made)."""
        return self.model_dump(exclude={"max_new_tokens"})


class _CommonOptions(_Strict):
    initial_difficulty: int = 0
    include: list[str] | None = None
    exclude: list[str] | None = None
    held_out: list[str] | None = None
    sampling: Literal["uniform", "least_sampled"] = "uniform"
    least_sampled_power: float = Field(1.0, ge=0)
    correct_threshold: float = 1.0
    bounds: dict[str, tuple[int, int | None]] | None = None


class RLVEOptions(_CommonOptions):
    window: int = Field(4, ge=1)
    min_samples: int | None = Field(None, ge=1)
    group_size: int = Field(16, ge=1)
    prompts_per_check: int = Field(8, ge=1)
    promote_accuracy: float = Field(0.9, ge=0, le=1)


class ZayaOptions(_CommonOptions):
    promote_pass_rate: float = Field(0.7, ge=0, le=1)
    demote_pass_rate: float = Field(0.0, ge=0, le=1)


class FixedCurriculum(_Strict):
    """No curriculum: the stream samples by the envs' weights at their fixed difficulties."""

    kind: Literal["fixed"] = "fixed"
    options: dict[str, Any] = Field(default_factory=dict, max_length=0)


class RLVECurriculum(_Strict):
    kind: Literal["rlve"]
    options: RLVEOptions = RLVEOptions()
    calibrate: CalibrateSettings | None = None


class ZayaCurriculum(_Strict):
    kind: Literal["zaya"]
    options: ZayaOptions = ZayaOptions()
    calibrate: CalibrateSettings | None = None


def _kind(value: Any) -> Any:
    """The discriminator: ``kind`` (default ``fixed``); an unknown kind is reported as such."""
    kind = value.get("kind", "fixed") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind


CurriculumSpec = Annotated[
    Annotated[FixedCurriculum, Tag("fixed")] | Annotated[RLVECurriculum, Tag("rlve")] | Annotated[ZayaCurriculum, Tag("zaya")],
    Discriminator(_kind, custom_error_type="curriculum_kind",
                  custom_error_message="unknown curriculum kind (known: fixed, rlve, zaya)"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(CurriculumSpec)


def parse_curriculum(data: dict[str, Any]) -> FixedCurriculum | RLVECurriculum | ZayaCurriculum:
    """A stage kind's default curriculum dict as the validated model."""
    return _ADAPTER.validate_python(data)


def curriculum_kwargs(spec: RLVECurriculum | ZayaCurriculum) -> dict[str, Any]:
    """``make_curriculum`` keyword arguments: only what the YAML set, so defaults stay in one place."""
    return spec.options.model_dump(exclude_unset=True)
