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
            "help": "'clip': TRL's PPO ratio clipping. 'dppo_binary_tv': DPPO binary-TV as verl's "
            "compute_policy_loss_dppo_tv: no clipping; a token with A > 0 gets no gradient when "
            "pi(y_t) - mu(y_t) > `dppo_delta`, one with A <= 0 when pi(y_t) - mu(y_t) < -`dppo_delta`; kept "
            "tokens get -A * min(pi/mu, `dppo_ratio_cap`) (ratio detached). mu is the behaviour policy: the "
            "batch's `sampling_per_token_logps` (a rollout engine's), else TRL's `old_per_token_logps`, else the "
            "current log-probs (on-policy: nothing is masked). Logs `dppo/masked_frac`. Needs beta=0."
        },
    )
    dppo_delta: float = field(
        default=0.1, metadata={"help": "DPPO trust-region radius in probability space (binary TV per token)."}
    )
    dppo_ratio_cap: float = field(
        default=20.0,
        metadata={"help": "DPPO truncated importance sampling: kept tokens' ratio pi/mu is capped here (detached)."},
    )
    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "DAPO dynamic sampling: drop groups with zero spread and refill them with fresh prompts from "
            "the train dataset. Spread is measured on the reward that feeds the advantage numerator: the raw "
            "reward plus the length bonus when `length_bonus_c` > 0 (so an all-correct group whose lengths "
            "differ is kept: the bonus is its only, and real, signal), the raw reward otherwise. Logs "
            "`dynamic_sampling/dropped_frac`, `refills`, `unfilled_frac` (global over all processes)."
        },
    )
    dynamic_sampling_max_refills: int = field(
        default=3,
        metadata={
            "help": "Most extra generation rounds per batch for dynamic sampling; groups still zero-spread after "
            "the cap are kept with zero advantage and zero loss mask. 0 = drop without refilling, which under a "
            "loss_type whose normaliser ignores the mask (grpo, dr_grpo) removes only the groups' KL / entropy terms, "
            "and with neither changes nothing (a load-time error)."
        },
    )
    length_bonus_c: float = field(
        default=0.0,
        metadata={
            "help": "Length-bonus coefficient c (0 = off): correct rollout i of a group with solve rate p gets "
            "c*p*m_i*lambda_i in the advantage numerator (m_i = 1 if correct else 0) when p > 1/G and "
            "p > p*_s - `length_bonus_acc_tolerance`, p*_s the running max solve rate of the group's source."
        },
    )
    length_bonus_tolerance: float = field(
        default=0.0,
        metadata={"help": "T_l: correct completions within this many tokens of the shortest get the full bonus."},
    )
    length_bonus_acc_tolerance: float = field(
        default=0.1,
        metadata={
            "help": "T_acc: the bonus applies only while a group's solve rate p > p*_s - T_acc, p*_s the running "
            "maximum per-batch solve rate of its source (env id); p*_s is saved in checkpoints."
        },
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
            "moves by this rate towards uniform load (sign rule). 0 = off. Cannot be combined with router "
            "replay: the report keeps the biases fixed during RL, and moving them while training forwards "
            "replay the rollout's routes makes the two fight (82-100% of replayed routes flip)."
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
        if self.dppo_ratio_cap <= 0:
            raise ValueError(f"dppo_ratio_cap must be > 0, got {self.dppo_ratio_cap}")
        if self.length_bonus_acc_tolerance < 0:
            raise ValueError("length_bonus_acc_tolerance must be >= 0")
        if self.length_bonus_c > 0 and self.advantage_estimator == "grpo" and self.scale_rewards == "group":
            raise ValueError(
                "length_bonus_c > 0 with advantage_estimator=grpo and scale_rewards=group divides the bonus by the raw "
                "rewards' group std, which is 0 in all-correct groups (advantages ~ 1e4 x bonus); use "
                "advantage_estimator=maxrl (the report's) or scale_rewards=batch/none"
            )
        if self.trust_region == "dppo_binary_tv" and self.beta != 0.0:
            raise ValueError(
                "trust_region=dppo_binary_tv needs beta=0: the DPPO gradient is applied through the log-probs TRL's "
                "loss sees, which its KL term would share (the recipe runs without KL)"
            )
        if self.trust_region == "dppo_binary_tv" and self.use_vllm and self.vllm_importance_sampling_correction:
            raise ValueError(
                "trust_region=dppo_binary_tv already weighs each token by min(pi/mu, dppo_ratio_cap) against the "
                "sampling log-probs; TRL's vllm_importance_sampling_correction would apply a second correction: set "
                "it to false"
            )
        if self.router_bias_update_rate > 0 and self.router_replay is not False:
            raise ValueError(
                "router_bias_update_rate > 0 with router replay: the report keeps balancing biases fixed during RL "
                "and replaying rollout routes while the biases move makes them fight; set router_replay: false to "
                "rebalance, or router_bias_update_rate: 0 (router_replay defaults to on for ZAYA)"
            )
        local = self.per_device_train_batch_size * self.steps_per_generation
        if self.dynamic_sampling and self.dynamic_sampling_max_refills > 0 and self.world_size > 1 and local % (self.num_generations or 1):
            raise ValueError(
                f"dynamic_sampling refill with {self.world_size} processes needs each process's generation batch "
                f"(per_device_train_batch_size * steps_per_generation = {local}) to hold whole groups of "
                f"num_generations={self.num_generations}; or set dynamic_sampling_max_refills: 0"
            )
