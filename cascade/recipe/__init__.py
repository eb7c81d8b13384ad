"""The ZAYA1 RL recipe as switches on TRL's GRPOTrainer (report §IV-B, §IV-C)."""

from cascade.recipe.checks import check_recipe_for_model
from cascade.recipe.config import CascadeGRPOConfig
from cascade.recipe.trainer import CascadeGRPOTrainer

__all__ = ["CascadeGRPOConfig", "CascadeGRPOTrainer", "check_recipe_for_model"]
