"""CascadeGRPOTrainer's coupling to TRL: every method it overrides keeps the signature it was written against.

Most overrides are private GRPOTrainer methods with no stability promise; pyproject.toml bounds
``trl`` to the minor version tested, and this test names the method when a TRL upgrade moves one.
To upgrade TRL: read each changed method, adapt the override, then re-record its line below.
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import trl
from packaging.requirements import Requirement
from trl import GRPOTrainer

from cascade.recipe.trainer import CascadeGRPOTrainer

# Parameters (name, kind, default) of the parent method each override was written against, trl 1.16.
P, K = "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY"
RECORDED: dict[str, list[tuple[str, str, str]]] = {
    "_generate_single_turn": [
        ("self", P, ""), ("prompt_ids", P, ""), ("images", P, ""), ("multimodal_fields", P, ""),
        ("num_generations", P, ""), ("has_tool_images", P, "False"),
    ],
    "_calculate_rewards": [
        ("self", P, ""), ("inputs", P, ""), ("prompts", P, ""), ("completions", P, ""), ("completion_ids_list", P, ""),
    ],
    "_generate_and_score_completions": [("self", P, ""), ("inputs", P, "")],
    "_compute_loss": [("self", P, ""), ("model", P, ""), ("inputs", P, "")],
    "_get_per_token_logps_and_entropies": [
        ("self", P, ""), ("model", P, ""), ("input_ids", P, ""), ("attention_mask", P, ""), ("logits_to_keep", P, ""),
        ("batch_size", P, "None"), ("compute_entropy", P, "False"), ("compute_aux_loss", P, "False"),
        ("pixel_values", P, "None"), ("image_grid_thw", P, "None"), ("num_images", P, "None"),
        ("pixel_attention_mask", P, "None"), ("spatial_shapes", P, "None"), ("num_tiles", P, "None"),
        ("image_sizes", P, "None"), ("token_type_ids", P, "None"), ("mm_token_type_ids", P, "None"),
        ("image_position_ids", P, "None"),
    ],
    "training_step": [("self", P, ""), ("model", P, ""), ("inputs", P, ""), ("num_items_in_batch", P, "")],
    "create_optimizer": [("self", P, ""), ("model", P, "None")],
    # overridden by issue #13's recipe trainer (restores the length bonus's running maxima on resume)
    "train": [("self", P, ""), ("resume_from_checkpoint", P, "None"), ("trial", P, "None"), ("ignore_keys_for_eval", P, "None")],
}
# Forwards *args / **kwargs untouched, so any parent signature fits.
PASS_THROUGH = {"__init__"}


def _params(func) -> list[tuple[str, str, str]]:
    sig = inspect.signature(func)
    return [
        (p.name, p.kind.name, "" if p.default is inspect.Parameter.empty else repr(p.default))
        for p in sig.parameters.values()
    ]


def _overrides() -> list[str]:
    """Methods of GRPOTrainer (or its bases) that CascadeGRPOTrainer or one of its mixins redefines."""
    ours = [c for c in CascadeGRPOTrainer.__mro__ if c.__module__.startswith("cascade.")]
    return sorted({n for c in ours for n, v in vars(c).items() if callable(v) and hasattr(GRPOTrainer, n)})


def test_every_override_is_recorded():
    missing = [n for n in _overrides() if n not in RECORDED and n not in PASS_THROUGH]
    assert not missing, f"CascadeGRPOTrainer overrides {missing}: record their TRL signatures in RECORDED"


def test_overridden_methods_keep_their_trl_signature():
    changed = [
        f"GRPOTrainer.{name}: recorded {RECORDED[name]}, trl {trl.__version__} has {_params(getattr(GRPOTrainer, name))}"
        for name in _overrides() if name in RECORDED and _params(getattr(GRPOTrainer, name)) != RECORDED[name]
    ]
    assert not changed, "\n".join(changed)


def test_installed_trl_is_inside_the_pinned_range(root: Path):
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    trl_req = next(Requirement(d) for d in deps if Requirement(d).name == "trl")
    assert trl_req.specifier.contains(trl.__version__), f"trl {trl.__version__} outside {trl_req.specifier}"
    assert trl_req.specifier.contains("1.16.0") and not trl_req.specifier.contains("1.17.0")
