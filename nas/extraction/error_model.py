"""ê as a smooth function of the architecture, fitted to every trained candidate of the search.

Why: one short training run per candidate carries seed noise about half as large as the spread
between candidates, so single measurements rank poorly. The paper's guarantee assumes the error
is a function of the architectural parameters; fitting that function lets all candidates share
their noise. The "quadratic" model is least squares of log ê on a full quadratic in the
standardised (D, log2 A, log2 H, log2 I): log, because W uses error ratios. Against the
higher-fidelity reference it ranks better than the raw measurement at every seed measured, and its
seed noise is a third of the raw one (docs/error-proxy.md, `benchmarks/error_model.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.architecture import SYMBOLS
from ..core.errors import BortnasError

#: "quadratic" (the default) fits the model; "none" ranks by the measured ê of each candidate.
ERROR_MODELS = ("quadratic", "none", "law")
#: The fit needs at least this many trained candidates per model term; below it (a small space,
#: a large ε, a short baseline) the search ranks by the measured ê and says so in its notes.
CANDIDATES_PER_TERM = 3


@dataclass(frozen=True)
class ErrorFit:
    """The fitted ê of every row, the standard error of each fitted value, and how well it fits."""

    fitted: np.ndarray
    standard_error: np.ndarray
    terms: int
    residual_sd_log: float
    r_squared: float
    #: Covariance of the fitted log ê between candidates, σ² X (XᵀX)⁻¹ Xᵀ: neighbours share
    #: most of their fit, so their errors move together (about 0.75 correlation for close shapes).
    log_covariance: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "terms": self.terms,
            "residual_sd_log": round(self.residual_sd_log, 6),
            "r_squared": round(self.r_squared, 6),
        }


def dimensions_of(architectures: Any) -> np.ndarray:
    """(D, A, H, I) of each architecture, as the error model reads them."""
    return np.array([a.shape for a in architectures], dtype=float)


def quadratic_features(dimensions: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray:
    """Intercept, linear, square and cross terms of the standardised (D, log A, log H, log I).

    Standardised over `basis` (default: the rows themselves), so that a fit on some candidates
    predicts the others on one scale. Dimensions that do not vary over `basis` are left out.
    """

    def columns(rows: np.ndarray) -> np.ndarray:
        return np.column_stack([rows[:, 0], *(np.log2(rows[:, k]) for k in range(1, 4))])

    basis_columns = columns(np.asarray(dimensions if basis is None else basis, dtype=float))
    varying = np.ptp(basis_columns, axis=0) > 1e-9  # log2(12) is not exact: no std() > 0
    mean = basis_columns[:, varying].mean(axis=0)
    scale = basis_columns[:, varying].std(axis=0)
    z = (columns(np.asarray(dimensions, dtype=float))[:, varying] - mean) / scale
    count = z.shape[1]
    terms = [np.ones(len(z))] + [z[:, i] for i in range(count)]
    terms += [z[:, i] * z[:, j] for i in range(count) for j in range(i, count)]
    return np.column_stack(terms)


def fit_quadratic(
    dimensions: np.ndarray, errors: np.ndarray, predict_at: np.ndarray | None = None
) -> ErrorFit | None:
    """Least squares of log ê on `quadratic_features` of the trained `dimensions`; the fitted ê,
    standard errors and covariance are given at `predict_at` (default: the trained rows).
    None if too few candidates for the terms."""
    errors = np.asarray(errors, dtype=float)
    if np.any(~np.isfinite(errors)) or np.any(errors <= 0):
        raise BortnasError("the error model needs finite, positive measured errors")
    dimensions = np.asarray(dimensions, dtype=float)
    targets = dimensions if predict_at is None else np.asarray(predict_at, dtype=float)
    basis = np.vstack([dimensions, targets])
    features = quadratic_features(dimensions, basis)
    rank = int(np.linalg.matrix_rank(features))
    if len(errors) < CANDIDATES_PER_TERM * rank:
        return None
    target = np.log(errors)
    coefficients, *_ = np.linalg.lstsq(features, target, rcond=None)
    residuals = target - features @ coefficients
    residual_variance = float(residuals @ residuals) / max(len(errors) - rank, 1)
    inverse = np.linalg.pinv(features.T @ features)
    at = quadratic_features(targets, basis)
    shared = at @ inverse @ at.T  # leverage on the diagonal: Var(fitted) = σ² h
    fitted = np.exp(at @ coefficients)
    no_spread = np.ptp(target) <= 1e-12  # every error equal: the constant fits exactly
    total = float(((target - target.mean()) ** 2).sum())
    return ErrorFit(
        fitted=fitted,
        standard_error=fitted * np.sqrt(residual_variance * np.clip(np.diag(shared), 0.0, None)),
        terms=rank,
        residual_sd_log=float(np.sqrt(residual_variance)),
        r_squared=1.0 if no_spread else 1.0 - float(residuals @ residuals) / total,
        log_covariance=residual_variance * shared,
    )


def _fit_table(table: pd.DataFrame) -> ErrorFit | None:
    """The model fitted on the table's trained rows, given at every row."""
    trained = table["error_measured"].notna().to_numpy()
    dimensions = table[list(SYMBOLS)].to_numpy(dtype=float)
    return fit_quadratic(
        dimensions[trained], table["error_measured"].to_numpy()[trained], predict_at=dimensions
    )


def fitted_log_covariance(table: pd.DataFrame) -> pd.DataFrame | None:
    """The covariance of ln ê between the table's candidates under the error model (by id), or
    None when the table's ê is not the model's (then the candidates' noises are independent)."""
    if "error_model_std" not in table or "error_measured" not in table or "error_law" in table:
        return None
    if table["error_measured"].notna().sum() < 2:
        return None
    fit = _fit_table(table)
    if fit is None or fit.log_covariance is None:
        return None
    return pd.DataFrame(fit.log_covariance, index=table.index, columns=table.index)


def apply_error_model(table: pd.DataFrame, model: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table with `error` replaced by the model's value; the measured one is kept.

    Rows without a measured error (candidates not trained) get the model's prediction, and are
    dropped when there is no model. Adds `error_measured` (what the candidate's training gave;
    empty where predicted), `error_source` (measured or predicted) and, when the model is fitted,
    `error_model_std` (the fitted value's standard error, which the tie band then uses).
    Returns the table and a summary of the fit for `summary.json`.
    """
    if model not in ERROR_MODELS:
        raise BortnasError(f"unknown error model {model!r}; choose one of {list(ERROR_MODELS)}")
    table = table.copy()
    table["error_measured"] = table["error"].astype(float)
    table["error_source"] = np.where(table["error_measured"].notna(), "measured", "predicted")
    trained = table[table["error_source"] == "measured"]
    if model == "none":
        return trained, {"model": "none"}
    measured = trained["error_measured"].to_numpy()
    unusable = ~np.isfinite(measured) | (measured <= 0)
    if unusable.any():  # W copes with them (floor, W = 0); a log-fit cannot
        return trained, {
            "model": "none",
            "requested": model,
            "skipped": f"{int(unusable.sum())} candidate(s) have an error that is not finite and "
            "positive (e.g. " + ", ".join(trained.index[unusable].astype(str)[:3]) + "); ranked "
            "by the measured error (pass --error-model none to leave the fit out)",
        }
    fit = _fit_table(table)
    if fit is None:
        terms = int(np.linalg.matrix_rank(quadratic_features(trained[list(SYMBOLS)].to_numpy())))
        return trained, {
            "model": "none",
            "requested": model,
            "skipped": f"{len(trained)} trained candidates are too few for a {terms}-term fit "
            f"(at least {CANDIDATES_PER_TERM * terms}); ranked by the measured error",
        }
    table["error"] = fit.fitted
    table["error_model_std"] = fit.standard_error
    summary = {"model": model, "candidates": len(trained), "predicted": len(table) - len(trained)}
    return table, summary | fit.to_dict()
