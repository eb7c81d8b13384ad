"""CascadeGRPOConfig: TRL's GRPOConfig plus the recipe switches, one documented field each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trl import GRPOConfig


@dataclass
class CascadeGRPOConfig(GRPOConfig):
    """GRPOConfig with the ZAYA1 recipe switches (all off unless a stage turns them on).

    Two parts of the recipe are plain GRPOConfig fields that the recipe stages (1-3) set rather
    than switches defined here: Dr-GRPO sequence aggregation is ``loss_type="dr_grpo"`` and "no KL"
    is ``beta=0.0``. Behavioral RL (stage 4) keeps ``advantage_estimator="grpo"`` with
    ``scale_rewards="group"`` (std normalisation) and ``length_bonus_c=0``. Router replay and router
    telemetry are on by default for ZAYA policies. TRL's router aux loss (``router_aux_loss_coef``)
    must stay off for ZAYA: its skip class breaks it (see ``check_recipe_for_model``).
    """

    advantage_estimator: Literal["grpo", "maxrl"] = field(
        default="grpo",
        metadata={
            "help": "'grpo': TRL's (r - mean)/std with `scale_rewards`; 'maxrl': (r - mean)/mean per group "
            "(advantage 0 when the group mean is <= 0). Stages 1-3 use 'maxrl', behavioral RL 'grpo'."
        },
    )
    trust_region: Literal["clip", "dppo_binary_tv"] = field(
        default="clip",
        metadata={
            "help": "'clip': TRL's PPO ratio clipping. 'dppo_binary_tv': no clipping; tokens whose "
            "|pi_theta(y_t) - pi_old(y_t)| exceeds `dppo_delta` get no gradient, the rest use the plain "
            "importance-weighted policy gradient. Logs `dppo/masked_frac`."
        },
    )
    dppo_delta: float = field(
        default=0.1, metadata={"help": "DPPO trust-region radius in probability space (binary TV per token)."}
    )
    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "DAPO dynamic sampling: drop groups whose rewards have zero spread and refill them with fresh "
            "prompts from the train dataset. Logs `dynamic_sampling/dropped_frac`."
        },
    )
    dynamic_sampling_max_refills: int = field(
        default=3,
        metadata={
            "help": "Most extra generation rounds per batch for dynamic sampling; groups still zero-spread after "
            "the cap are kept with zero advantage and zero loss mask. 0 = drop without refilling."
        },
    )
    length_bonus_c: float = field(
        default=0.0,
        metadata={
            "help": "Length-bonus coefficient c (0 = off): correct rollouts of groups with solve rate p > 1/G get "
            "c*p*m*lambda in the advantage numerator (m = the group's max reward)."
        },
    )
    length_bonus_tolerance: float = field(
        default=0.0,
        metadata={"help": "T_l: correct completions within this many tokens of the shortest get the full bonus."},
    )
    length_bonus_correct_threshold: float = field(
        default=1.0,
        metadata={
            "help": "A rollout counts as correct when its total reward is >= this, unless a reward function "
            "logs a boolean `correct` column through `log_extra`, which then wins."
        },
    )
    degeneracy_gate: bool = field(
        default=False,
        metadata={
            "help": "Force the reward to 0 when any chunk of the completion's token ids (little-endian uint32 "
            "bytes) compresses below `degeneracy_min_ratio` under zlib level 1. Logs `degeneracy/gated_frac` "
            "and the canary `degeneracy/rare_token_frac`."
        },
    )
    degeneracy_min_ratio: float = field(
        default=0.05, metadata={"help": "Compressed/raw size ratio below which a chunk counts as degenerate."}
    )
    degeneracy_chunk_bytes: int = field(
        default=1024, metadata={"help": "Chunk size in bytes (4 bytes per token id) for the degeneracy gate."}
    )
    rare_token_id_quantile: float = field(
        default=0.95,
        metadata={
            "help": "Canary: `degeneracy/rare_token_frac` is the share of completion tokens with id >= "
            "quantile * vocab size (late BPE merges and reserved tokens live there)."
        },
    )
    router_replay: bool | None = field(
        default=None,
        metadata={
            "help": "Record each token's expert (skip included) at rollout and force it in training forwards, "
            "gate probabilities staying differentiable. None = on iff the policy is a ZAYA model."
        },
    )
    router_telemetry: bool = field(
        default=True,
        metadata={
            "help": "Log per-layer expert load, skip rate, router entropy and max/min load ratio of the rollout "
            "routing every step (ZAYA policies only)."
        },
    )
    router_bias_update_rate: float = field(
        default=0.0,
        metadata={
            "help": "Aux-loss-free balancing during RL: after each rollout, each real expert's balancing bias "
            "moves by this rate towards uniform load (sign rule). 0 = off."
        },
    )

    optimizer: Literal["adamw", "muon"] = field(
        default="adamw",
        metadata={
            "help": "'adamw': transformers' optimizer (`optim`). 'muon': torch.optim.Muon (momentum 0, LR RMS-matched "
            "to AdamW by adjust_lr_fn='match_rms_adamw') for 2-D weight matrices, AdamW for embeddings, the LM head, "
            "norms, biases and router biases (report §IV-B1). With LoRA only the adapters train."
        },
    )
    allow_inactive: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Recipe switches (rows of the recipe-in-effect table) this stage may run with although they "
            "cannot apply in its configuration; any other such switch is a load-time error. Logged at stage start."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dppo_delta <= 0:
            raise ValueError(f"dppo_delta must be > 0, got {self.dppo_delta}")
        if self.dynamic_sampling_max_refills < 0:
            raise ValueError("dynamic_sampling_max_refills must be >= 0")
        if self.length_bonus_c < 0 or self.length_bonus_tolerance < 0:
            raise ValueError("length_bonus_c and length_bonus_tolerance must be >= 0")
        if not 0 < self.degeneracy_min_ratio < 1 or self.degeneracy_chunk_bytes < 4:
            raise ValueError("degeneracy_min_ratio must be in (0, 1) and degeneracy_chunk_bytes >= 4")
        if not 0 < self.rare_token_id_quantile <= 1:
            raise ValueError("rare_token_id_quantile must be in (0, 1]")
        if self.router_bias_update_rate < 0:
            raise ValueError("router_bias_update_rate must be >= 0")
