"""Dataset environments and mixtures (the public face of ``envs.data``).

``envs.datasets.mixture([(env, weight), ...])``, ``load_rows(path_or_name, ...)`` and the
registered ids ``data/math``, ``data/tiny_arith``, ``data/competition_sample``, ``data/mixture``.
"""

from envs.data import (
    ANSWER_INSTRUCTION,
    DEFAULT_TEMPLATE,
    DatasetEnvironment,
    MixtureEnvironment,
    dedup_rows,
    load_rows,
    map_rows,
    mixture,
    normalize_prompt,
    read_records,
)

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
