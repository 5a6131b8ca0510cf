"""The W-coefficient (Definition 8 of de Wynter 2020, as restated): one number to maximise.

    W(ξ) = ((p(T) − p(ξ)) / p(T))^α · ((i(T) − i(ξ)) / i(T))^β · (1 / ê(ξ))^γ

T is the maximum point (largest p, ties by largest i) or a user's reference. Each ratio is the
share of T's size or latency that ξ saves; W(T) = 0, so T is never trained. α = β = γ = 1 is the
restated form; the exponents weigh the three factors (our addition, documented as such). Where T
is not the largest on p or i, a ratio would go negative: it is clipped at 0 (such a candidate
saves nothing on that axis and gets W = 0). Because W divides by ê, ratios of errors decide the
pick, so ê must be on a ratio scale and strictly positive: it is floored at `ERROR_FLOOR`.
Sources and our choices: docs/algorithm.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import BortnasError

#: Errors below this are treated as this (W divides by ê). Far below any measured proxy error
#: (the error proxy's losses lie in [0.2, 1] for trained students), so it only guards against 0.
ERROR_FLOOR = 1e-4


@dataclass(frozen=True)
class Exponents:
    """α, β, γ: exponents on the parameter, latency and error factors of W (1, 1, 1: the paper)."""

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise BortnasError(f"W-coefficient exponent {name} must be >= 0, got {value}")


DEFAULT_EXPONENTS = Exponents()


def savings(values: np.ndarray, reference: float) -> np.ndarray:
    """(T − x) / T, clipped at 0: the share of the reference that each value saves."""
    if not reference > 0:
        raise BortnasError(f"the reference point's value must be positive, got {reference}")
    return np.clip((reference - np.asarray(values, dtype=float)) / reference, 0.0, None)


def w_coefficients(
    parameters: np.ndarray,
    latencies: np.ndarray,
    errors: np.ndarray,
    *,
    reference_parameters: float,
    reference_latency: float,
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> np.ndarray:
    """W of every candidate (arrays of equal length) relative to the reference's p and i."""
    size_factor = savings(parameters, reference_parameters) ** exponents.alpha
    speed_factor = savings(latencies, reference_latency) ** exponents.beta
    error = np.maximum(np.asarray(errors, dtype=float), ERROR_FLOOR)
    return size_factor * speed_factor / error**exponents.gamma


def relative_uncertainty(
    latencies: np.ndarray,
    latency_spreads: np.ndarray,
    errors: np.ndarray,
    error_spreads: np.ndarray,
    *,
    reference_latency: float,
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> np.ndarray:
    """σ_W / W from the latency spread and the error's seed noise (first-order propagation).

    p is exact, so only i and ê carry noise: d ln W = β di / (i(T) − i) − γ dê / ê.
    """
    latencies = np.asarray(latencies, dtype=float)
    margin = np.maximum(reference_latency - latencies, 1e-12)
    latency_term = exponents.beta * np.asarray(latency_spreads, dtype=float) / margin
    error = np.maximum(np.asarray(errors, dtype=float), ERROR_FLOOR)
    error_term = exponents.gamma * np.asarray(error_spreads, dtype=float) / error
    return np.sqrt(latency_term**2 + error_term**2)


#: How many standard deviations of W_best − W the tie band spans. Calibrated, not assumed:
#: the smallest z for which, read as four independent one-seed searches (each seed of a
#: four-seed bert-large search, `benchmarks/error_model.py`), every seed's band holds every other
#: seed's pick; z = 2 (the textbook choice) held only 7 of those 12 picks. The error model's
#: covariance between candidates made the band narrower and worse calibrated (z 5.7 needed), so
#: the band treats the candidates' noises as independent (docs/algorithm.md).
TIE_BAND_Z = 3.6


def tie_band(
    w: np.ndarray,
    relative_sigma: np.ndarray,
    best: int,
    *,
    covariance_with_best: np.ndarray | None = None,
    z: float = TIE_BAND_Z,
) -> np.ndarray:
    """Candidates whose W cannot be told from the best's: W_best − W ≤ z · σ(W_best − W).

    Var(W_best − W) = σ_best² + σ² − 2 W_best W c, where c is the covariance of ln W between the
    two (`covariance_with_best`, per candidate; the error model's fit makes neighbours' errors
    move together, so their difference is surer than two independent values would be).
    """
    w = np.asarray(w, dtype=float)
    sigma = np.asarray(relative_sigma, dtype=float) * w
    variance = sigma**2 + sigma[best] ** 2
    if covariance_with_best is not None:
        variance = variance - 2 * w[best] * w * np.asarray(covariance_with_best, dtype=float)
    gap = w[best] - w
    return gap <= z * np.sqrt(np.clip(variance, 0.0, None))
