"""Start each environment near pass rate 0.5 for the starting policy (ZAYA1 report, optional).

Model an environment's pass rate at difficulty d as p(d) = sigmoid(-(d - mu) / s), with a
grid posterior over (mu, s). Each round draws (mu, s) from the posterior (Thompson
sampling), measures the pass rate at d = round(mu) (where that draw predicts 0.5), and
updates the posterior with the binomial likelihood. The placement is the difficulty whose
posterior-mean pass rate is closest to the target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

PassRate = tuple[int, int] | float  # (passed, total) or a rate over ``group_size`` rollouts
PassRateFn = Callable[[str, int], PassRate]


class LogisticPosterior:
    """Grid posterior over (mu, s) of p(d) = sigmoid(-(d - mu) / s)."""

    def __init__(self, lo: int, hi: int, scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0)) -> None:
        mus = np.arange(lo - 0.5, hi + 0.75, 0.5)
        self.mu, self.s = (a.ravel() for a in np.meshgrid(mus, np.asarray(scales, dtype=float)))
        self.logw = np.zeros_like(self.mu)
        self.lo, self.hi = lo, hi

    def p(self, d: float) -> np.ndarray:
        return np.clip(1.0 / (1.0 + np.exp((d - self.mu) / self.s)), 1e-4, 1 - 1e-4)

    def weights(self) -> np.ndarray:
        w = np.exp(self.logw - self.logw.max())
        return w / w.sum()

    def draw(self, rng: np.random.Generator) -> tuple[float, float]:
        i = rng.choice(len(self.mu), p=self.weights())
        return float(self.mu[i]), float(self.s[i])

    def observe(self, d: int, passed: int, total: int) -> None:
        p = self.p(d)
        self.logw += passed * np.log(p) + (total - passed) * np.log1p(-p)

    def mean_pass(self, d: int) -> float:
        return float(self.weights() @ self.p(d))

    def best(self, target: float = 0.5) -> int:
        return min(range(self.lo, self.hi + 1), key=lambda d: (abs(self.mean_pass(d) - target), d))


def _as_counts(result: PassRate, group_size: int) -> tuple[int, int]:
    if isinstance(result, tuple):
        passed, total = int(result[0]), int(result[1])
    else:
        passed, total = int(round(float(result) * group_size)), group_size
    return max(0, min(passed, total)), max(total, 0)


def calibrate(
    env_ids: Sequence[str],
    pass_rate: PassRateFn,
    lo: int = 0,
    hi: int = 20,
    rounds: int = 6,
    group_size: int = 16,
    target: float = 0.5,
    seed: int = 0,
    bounds: dict[str, tuple[int, int | None]] | None = None,
) -> dict[str, int]:
    """Difficulty per environment whose estimated pass rate is closest to ``target``.

    ``pass_rate(env_id, d)`` runs the starting policy (e.g. ``group_size`` rollouts) and
    returns (passed, total) or a rate. Costs ``rounds`` calls per environment.
    """
    rng = np.random.default_rng(seed)
    placed: dict[str, int] = {}
    for env_id in env_ids:
        env_lo, env_hi = (bounds or {}).get(env_id, (lo, hi))
        env_lo, env_hi = max(lo, env_lo), min(hi, env_hi if env_hi is not None else hi)
        post = LogisticPosterior(env_lo, env_hi)
        for _ in range(rounds):
            mu, _s = post.draw(rng)
            d = int(min(max(round(mu), env_lo), env_hi))
            post.observe(d, *_as_counts(pass_rate(env_id, d), group_size))
        placed[env_id] = post.best(target)
    return placed
