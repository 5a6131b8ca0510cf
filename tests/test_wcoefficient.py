"""The W-coefficient on hand-made numbers: T scores 0, negative savings clip, the error floor."""

from __future__ import annotations

import numpy as np
import pytest

from bortnas.core.errors import BortnasError
from bortnas.extraction.ranking import error_reduction_needed
from bortnas.extraction.wcoefficient import ERROR_FLOOR, Exponents, tie_band, w_coefficients


def _w(p, i, e, *, exponents=None):
    return w_coefficients(
        np.array(p, float),
        np.array(i, float),
        np.array(e, float),
        reference_parameters=100.0,
        reference_latency=40.0,
        exponents=exponents or Exponents(),
    )


def test_w_is_the_product_of_savings_over_the_error() -> None:
    w = _w([50.0, 100.0, 90.0], [10.0, 40.0, 20.0], [0.8, 0.5, 0.25])
    assert w[0] == pytest.approx(0.5 * 0.75 / 0.8)
    assert w[1] == 0.0  # T itself: it saves nothing, whatever its error
    assert w[2] == pytest.approx(0.1 * 0.5 / 0.25)
    assert int(np.argmax(w)) == 0


def test_exponents_weigh_each_factor() -> None:
    only_error = _w([50.0], [10.0], [0.8], exponents=Exponents(0, 0, 1))
    assert only_error[0] == pytest.approx(1 / 0.8)
    squared = _w([50.0], [10.0], [0.8], exponents=Exponents(2, 1, 1))
    assert squared[0] == pytest.approx(0.25 * 0.75 / 0.8)
    with pytest.raises(BortnasError, match="alpha"):
        Exponents(alpha=-1)


def test_candidates_larger_or_slower_than_t_clip_to_zero() -> None:
    w = _w([120.0, 50.0, 50.0], [10.0, 45.0, 10.0], [0.5, 0.5, 0.5])
    assert w[0] == 0.0
    assert w[1] == 0.0
    assert w[2] > 0


def test_error_is_floored_so_w_stays_finite() -> None:
    w = _w([50.0, 50.0], [10.0, 10.0], [0.0, -1.0])
    assert np.all(np.isfinite(w))
    assert w[0] == pytest.approx(0.5 * 0.75 / ERROR_FLOOR) == w[1]


def test_reference_must_be_positive() -> None:
    with pytest.raises(BortnasError, match="positive"):
        w_coefficients(
            np.ones(1), np.ones(1), np.ones(1), reference_parameters=0.0, reference_latency=1.0
        )


def test_tie_band_holds_what_noise_cannot_separate() -> None:
    w = np.array([1.0, 0.99, 0.5])
    band = tie_band(w, np.array([0.01, 0.01, 0.01]), 0)
    assert band.tolist() == [True, True, False]
    assert tie_band(w, np.zeros(3), 0).tolist() == [True, False, False]


def test_error_reduction_needed_to_overtake() -> None:
    # W ∝ 1/ê: a candidate at 80 % of the pick's W needs a 20 % lower error to tie it.
    assert error_reduction_needed(0.8, 1.0, 1.0) == pytest.approx(0.2)
    assert error_reduction_needed(0.81, 1.0, 2.0) == pytest.approx(0.1)
    assert error_reduction_needed(1.0, 1.0, 1.0) == 0.0
