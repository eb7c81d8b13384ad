"""Dataset sources: rows from files or the hub, math environments over them, mixtures."""

from envs.data.env import ANSWER_INSTRUCTION, DEFAULT_TEMPLATE, DatasetEnvironment
from envs.data.mixture import MixtureEnvironment, mixture
from envs.data.rows import dedup_rows, load_rows, map_rows, normalize_prompt, read_records

__all__ = [
    "ANSWER_INSTRUCTION",
    "DEFAULT_TEMPLATE",
    "DatasetEnvironment",
    "MixtureEnvironment",
    "dedup_rows",
    "load_rows",
    "map_rows",
    "mixture",
    "normalize_prompt",
    "read_records",
]
