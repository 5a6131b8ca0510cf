"""From a study's completed trials to the ranked table: W, its factors, the tie band, Bort's rank.

Why a module of its own: the search, the report, the benchmarks and the notebooks all rank the
same way, and ranking is pure data work (a DataFrame in, a DataFrame out) that tests can check
by hand. Every column needed to recompute W from `candidates.csv` is kept in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.architecture import BORT, Architecture, count_parameters
from .pareto import non_dominated_mask
from .wcoefficient import (
    DEFAULT_EXPONENTS,
    TIE_BAND_Z,
    Exponents,
    relative_uncertainty,
    savings,
    tie_band,
    w_coefficients,
)

#: Relative seed noise of ê assumed when a search trains one seed per θ: the median σ/ê (σ over 2
#: seeds) of the proxy at its defaults over the 24 reference shapes, measured by
#: `benchmarks/error_proxy.py` (benchmarks/results/error_proxy_values.json: 0.041). With
#: --seeds >= 2 every candidate's own seed spread is used instead.
ASSUMED_RELATIVE_SEED_NOISE = 0.04


@dataclass(frozen=True)
class ReferencePoint:
    """T: the architecture W is relative to, with the p and i that W uses."""

    architecture: Architecture
    parameters: float
    latency_ms: float
    source: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferencePoint:
        return cls(
            Architecture.from_dict(data["architecture"]),
            data["parameters"],
            data["latency_ms"],
            data["source"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture.to_dict(),
            "name": self.architecture.name,
            "parameters": self.parameters,
            "latency_ms": self.latency_ms,
            "source": self.source,
        }


def measurement_rows(trials: list[Any]) -> pd.DataFrame:
    """One row per candidate from its completed work trial: dimensions, p (both), i, ê, best θ."""
    rows = []
    for trial in trials:
        measurements = trial.user_attrs["measurements"]
        architecture = trial.user_attrs["architecture"]
        count = count_parameters(Architecture.from_dict(architecture))
        error = measurements["error"]
        details = error.get("details", {})
        per_theta = details.get("per_theta") or []
        best = details.get("theta_best")
        theta = per_theta[best] if per_theta and best is not None else {}
        rows.append(
            {
                "id": trial.user_attrs["architecture_id"],
                "D": architecture["depth"],
                "A": architecture["heads"],
                "H": architecture["hidden"],
                "I": architecture["intermediate"],
                "parameters": measurements["parameters"]["value"],
                "parameters_total": count.total,
                "parameters_without_embeddings": count.without_embeddings,
                "latency_ms": measurements["latency"]["value"],
                "latency_spread_ms": measurements["latency"].get("spread") or 0.0,
                "error": error["value"],
                "error_seed_std": error.get("spread"),
                "theta_learning_rate": theta.get("learning_rate"),
                "theta_batch_size": theta.get("batch_size"),
                "errors_per_theta": ";".join(f"{t['value']:.5f}" for t in per_theta),
                "trial": trial.number,
                "training_steps": trial.user_attrs.get("training_steps", 0),
                "architecture": architecture,
            }
        )
    table = pd.DataFrame(rows)
    return table.set_index("id", drop=False) if not table.empty else table


def rank(
    table: pd.DataFrame,
    reference: ReferencePoint,
    *,
    exponents: Exponents = DEFAULT_EXPONENTS,
    error_covariance: pd.DataFrame | None = None,
    z: float = TIE_BAND_Z,
) -> pd.DataFrame:
    """Add W, its factors, σ_W/W, the tie band and the front; best W first.

    `error_covariance` (ln ê between candidates, by id; `error_model.fitted_log_covariance`)
    makes the band account for errors that move together; without it (as the search ranks:
    `TIE_BAND_Z` was calibrated that way) they are independent. `z`: the band's width.
    """
    table = table.copy()
    table["size_factor"] = savings(table["parameters"], reference.parameters)
    table["speed_factor"] = savings(table["latency_ms"], reference.latency_ms)
    table["w"] = w_coefficients(
        table["parameters"].to_numpy(),
        table["latency_ms"].to_numpy(),
        table["error"].to_numpy(),
        reference_parameters=reference.parameters,
        reference_latency=reference.latency_ms,
        exponents=exponents,
    )
    if "error_model_std" in table:  # ê is the error model's: its own standard error
        table["error_noise"] = table["error_model_std"].astype(float)
        table["error_noise_source"] = "error model"
    else:
        seed_std = table["error_seed_std"].astype(float)
        measured_noise = seed_std.notna()
        table["error_noise"] = np.where(
            measured_noise, seed_std, ASSUMED_RELATIVE_SEED_NOISE * table["error"]
        )
        table["error_noise_source"] = np.where(measured_noise, "seeds", "assumed")
    table["w_relative_sigma"] = relative_uncertainty(
        table["latency_ms"].to_numpy(),
        table["latency_spread_ms"].fillna(0.0).to_numpy(),
        table["error"].to_numpy(),
        table["error_noise"].to_numpy(),
        reference_latency=reference.latency_ms,
        exponents=exponents,
    )
    table["on_front"] = non_dominated_mask(table[["parameters", "latency_ms", "error"]].to_numpy())
    table = table.sort_values(["w", "parameters"], ascending=[False, True], kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    covariance = None
    if error_covariance is not None:
        best = table.index[0]
        shared = error_covariance.loc[table.index, best].to_numpy()
        covariance = exponents.gamma**2 * shared
    table["in_tie_band"] = tie_band(
        table["w"].to_numpy(),
        table["w_relative_sigma"].to_numpy(),
        0,
        covariance_with_best=covariance,
        z=z,
    )
    return table


def bort_standing(table: pd.DataFrame, gamma: float = 1.0) -> dict[str, Any] | None:
    """Bort's rank and W, and how much lower its error would have to be to overtake the pick."""
    if BORT.id not in table.index:
        return None
    row = table.loc[BORT.id]
    pick_w = float(table["w"].iloc[0])
    bort_w = float(row["w"])
    return {
        "rank": int(row["rank"]),
        "of": len(table),
        "w": bort_w,
        "error": float(row["error"]),
        "error_measured": float(row.get("error_measured", row["error"])),
        "in_tie_band": bool(row["in_tie_band"]),
        "error_reduction_to_overtake": error_reduction_needed(bort_w, pick_w, gamma),
    }


def error_reduction_needed(bort_w: float, pick_w: float, gamma: float) -> float:
    """1 − (W_bort/W_pick)^(1/γ): the relative error cut that lifts Bort's W to the pick's.

    W ∝ ê^−γ, so multiplying Bort's ê by (W_bort/W_pick)^(1/γ) makes its W equal the pick's.
    """
    if bort_w >= pick_w or pick_w <= 0:
        return 0.0
    return 1.0 - (bort_w / pick_w) ** (1.0 / gamma) if gamma > 0 else float("inf")
