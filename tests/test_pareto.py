from __future__ import annotations

import itertools

import numpy as np
import pytest

from bortnas.extraction.pareto import dominates, hypervolume, non_dominated_mask


def _brute_force_front(points: np.ndarray) -> np.ndarray:
    return np.array(
        [not any(dominates(other, point) for other in points) for point in points], dtype=bool
    )


def test_front_matches_brute_force_on_random_points() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        points = rng.integers(0, 6, size=(40, 3)).astype(float)  # many ties and duplicates
        assert np.array_equal(non_dominated_mask(points), _brute_force_front(points))


def test_front_small_example() -> None:
    points = np.array([[1, 5, 1], [2, 2, 2], [3, 3, 3], [1, 5, 1], [5, 1, 1]])
    assert non_dominated_mask(points).tolist() == [True, True, False, True, True]


def test_hypervolume_of_boxes() -> None:
    reference = np.array([4.0, 4.0, 4.0])
    assert hypervolume(np.array([[1.0, 1.0, 1.0]]), reference) == pytest.approx(27.0)
    # Two boxes 3x3x1 and 1x1x3 overlapping in a 1x1x1 cube: 9 + 3 - 1.
    two = np.array([[1.0, 1.0, 3.0], [3.0, 3.0, 1.0]])
    assert hypervolume(two, reference) == pytest.approx(11.0)
    assert hypervolume(np.array([[5.0, 0.0, 0.0]]), reference) == 0.0


def test_hypervolume_matches_monte_carlo_grid() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 1, size=(12, 3))
    reference = np.ones(3)
    grid = np.array(list(itertools.product(np.linspace(0.025, 0.975, 20), repeat=3)))
    covered = np.any(np.all(points[None, :, :] <= grid[:, None, :], axis=2), axis=1)
    assert hypervolume(points, reference) == pytest.approx(covered.mean(), abs=0.03)
