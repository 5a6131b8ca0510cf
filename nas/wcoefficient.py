"""The W-coefficient: one number that ranks candidates on parameters, latency and error at once.

Step 4 of de Wynter (2020)'s algorithm scores every candidate ξ relative to the maximum point T.
The paper's exact formula was not recoverable from any source we could reach (see DESIGN.md §3);
this is our reconstruction from its stated objective, documented as such:

    W(ξ) = (p(ξ)/p(T))^α · (i(ξ)/i(T))^β · (e(ξ)/e(T))^γ,   α = β = γ = 1 by default.

Each ratio says how ξ compares with T on one objective; the product is scale-free, so units do not
matter, and the exponents let a user weigh the objectives. Smaller is better; W(T) = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bortnas.errors import BortnasError


@dataclass(frozen=True)
class Exponents:
    """α, β, γ: the weights of parameters, latency and error in the W-coefficient."""

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise BortnasError(f"W-coefficient exponent {name} must be >= 0, got {value}")

    def as_array(self) -> np.ndarray:
        return np.array([self.alpha, self.beta, self.gamma])


#: α = β = γ = 1: every objective weighs the same (DESIGN.md's default).
DEFAULT_EXPONENTS = Exponents()


def w_coefficients(
    objectives: np.ndarray, reference: np.ndarray, exponents: Exponents = DEFAULT_EXPONENTS
) -> np.ndarray:
    """W of every row of `objectives` ((n, 3): parameters, latency, error) relative to `reference`.

    Computed in log space (a sum of weighted log-ratios) so tiny and huge ratios stay exact.
    """
    objectives = np.asarray(objectives, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if np.any(objectives <= 0) or np.any(reference <= 0):
        raise ValueError("W-coefficient needs strictly positive parameters, latency and error")
    log_ratios = np.log(objectives) - np.log(reference)
    return np.exp(log_ratios @ exponents.as_array())
