"""The calibration of the layer table: a robust fit of full timings on layer sums, and its quality.

Why robust: the table's sum `D x t_layer + t_overhead` misses what a whole model adds or saves
(calls between layers, memory effects), so it is mapped onto a few full models by
`scale x sum^exponent`, fitted in logs. Least squares let one disturbed full timing decide
such a map: measured in a search with two light processes beside it, one slow timing became a
180 ms intercept added to every candidate (a 6.8 ms model predicted at 185 ms). The Theil-Sen
estimator (the median of pairwise slopes, SciPy's `theilslopes`) ignores up to about 29 % of
wild points.

Why a gate: a fit can still be wrong (too many points disturbed, or a table out of step with the
full models). Each calibration point is predicted by a fit on the others (leave-one-out); the
calibration passes when at most `MAX_OUTLIERS` of them miss by more than `MAX_LOO_ERROR` (the
robust fit ignores a lone outlier, which is listed) and the exponent is close to 1 (the sum
already counts every layer, the embeddings and the pooler, so what it misses is small). A failed
gate triggers re-timing, and a gate still failed is reported with the result, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .latency import LatencyError

#: Largest leave-one-out relative error of a calibration point that passes the gate.
MAX_LOO_ERROR = 0.15
#: Calibration models allowed to disagree (the robust fit ignores them; they are listed).
MAX_OUTLIERS = 1
#: The fit's exponent must lie here: a model of twice the layer time takes about twice as long.
EXPONENT_RANGE = (0.8, 1.25)


def fit_calibration(raw: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Theil-Sen `log measured ~ log scale + exponent x log raw`: returns (scale, exponent).

    In logs, because W sees latency as a ratio (i/i_T): every model's relative error counts
    alike, a 6 ms model's as much as a 250 ms one's (a linear fit lets the largest dominate, and
    measured here, left the smallest 40 % too slow), and every prediction stays positive.
    """
    from scipy.stats import theilslopes  # scipy.stats costs a second to import: only when fitting

    x = np.log(np.asarray(raw, dtype=float))
    y = np.log(np.asarray(measured, dtype=float))
    if len(x) < 2 or np.ptp(x) == 0:
        raise LatencyError("calibration needs at least two architectures of different latency")
    exponent, log_scale, *_ = theilslopes(y, x, method="joint")  # median of y − exponent x
    return float(np.exp(log_scale)), float(exponent)


def predict(
    raw: float | np.ndarray,
    scale: float,
    exponent: float,
    anchors: Sequence[tuple[float, float]] = (),
) -> float | np.ndarray:
    """The calibrated latency of a layer-table sum `raw` (ms).

    `anchors` are (raw, measured/fitted) of the calibration models the gate kept: the fit's
    residual ratio is interpolated between them in log raw (held constant beyond the ends), so a
    calibration model is predicted exactly and its neighbours follow it. Why: W reads latency as
    i/i_T, and T is the largest calibration model; a smooth fit off by 10 % at T (measured) moved
    every ratio by 10 %, while the table's sums were within 5 % of the models in between.
    """
    x = np.asarray(raw, dtype=float)
    fitted = scale * x**exponent
    if not anchors:
        return fitted
    points = sorted(anchors)
    log_raw = np.log([a for a, _ in points])
    log_ratio = np.log([r for _, r in points])
    return fitted * np.exp(np.interp(np.log(x), log_raw, log_ratio))


def leave_one_out_errors(raw: Sequence[float], measured: Sequence[float]) -> list[float]:
    """Relative error of each point predicted by the calibration fitted on the others."""
    x = np.asarray(raw, dtype=float)
    y = np.asarray(measured, dtype=float)
    errors = []
    for left_out in range(len(x)):
        keep = np.arange(len(x)) != left_out
        if np.ptp(x[keep]) == 0:
            errors.append(float("nan"))
            continue
        scale, exponent = fit_calibration(x[keep], y[keep])
        predicted = predict(x[left_out], scale, exponent)
        errors.append(float(abs(predicted - y[left_out]) / y[left_out]))
    return errors


def assess_calibration(
    names: Sequence[str], raw: Sequence[float], measured: Sequence[float]
) -> dict[str, Any]:
    """The fit and its quality record: every point's residual and leave-one-out error, the gate."""
    scale, exponent = fit_calibration(raw, measured)
    loo = leave_one_out_errors(raw, measured) if len(raw) >= 3 else []
    points = []
    for i, (name, x, y) in enumerate(zip(names, raw, measured, strict=True)):
        fitted = float(predict(x, scale, exponent))
        points.append(
            {
                "architecture": name,
                "raw_ms": round(float(x), 4),
                "measured_ms": round(float(y), 4),
                "predicted_ms": round(fitted, 4),
                "residual_ms": round(float(y) - fitted, 4),
                "loo_relative_error": None if not loo or np.isnan(loo[i]) else round(loo[i], 4),
            }
        )
    finite = [value for value in loo if np.isfinite(value)]
    worst = max(finite) if finite else None
    outliers = [p["architecture"] for p in points if (p["loo_relative_error"] or 0) > MAX_LOO_ERROR]
    reasons = []
    if len(outliers) > MAX_OUTLIERS:
        reasons.append(
            f"{len(outliers)} of {len(points)} calibration models are off by more than "
            f"{100 * MAX_LOO_ERROR:.0f} % when left out ({', '.join(outliers)})"
        )
    if not EXPONENT_RANGE[0] <= exponent <= EXPONENT_RANGE[1]:
        reasons.append(
            f"the fit's exponent {exponent:.2f} is outside {EXPONENT_RANGE}: the full models do "
            "not grow with the table's sums as layers add up"
        )
    residuals = np.asarray([p["residual_ms"] for p in points])
    anchors = [
        [p["raw_ms"], p["measured_ms"] / p["predicted_ms"]]
        for p in points
        if p["architecture"] not in outliers
    ]
    return {
        "fit": "theil-sen, log-log",
        "scale": scale,
        "exponent": exponent,
        "rms_ms": float(np.sqrt(np.mean(residuals**2))),
        "points": points,
        "max_loo_relative_error": None if worst is None else round(worst, 4),
        "gate": {"max_loo_relative_error": MAX_LOO_ERROR, "exponent_range": EXPONENT_RANGE},
        "outliers": outliers,
        "anchors": anchors,
        "passed": not reasons,
        "reasons": reasons,
    }
