"""Pareto maths as pure functions over arrays of objective vectors (every objective minimised).

Why pure functions: the optimizer, the report, the benchmark and the tests all need the same
non-dominated set and hypervolume, and plain arrays in / arrays out are easy to check by hand.
"""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """True when `a` is no worse than `b` in every objective and better in at least one."""
    return bool(np.all(a <= b) and np.any(a < b))


def non_dominated_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (duplicates all stay on the front)."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"expected an (n, m) array of objective vectors, got shape {points.shape}")
    no_worse = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    better = np.any(points[:, None, :] < points[None, :, :], axis=2)
    dominated = np.any(no_worse & better, axis=0)
    return ~dominated


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Exact hypervolume dominated by `points` and bounded by `reference` (2 or 3 objectives).

    Three objectives are swept along the first one: between consecutive first-objective values the
    dominated region is a constant 2-D staircase, whose area is exact.
    """
    points = np.asarray(points, dtype=float)
    reference = np.asarray(reference, dtype=float)
    inside = points[np.all(points < reference, axis=1)]
    if len(inside) == 0:
        return 0.0
    if points.shape[1] == 2:
        return _area_2d(inside, reference)
    if points.shape[1] != 3:
        raise ValueError("hypervolume supports 2 or 3 objectives")
    order = np.argsort(inside[:, 0])
    inside = inside[order]
    volume = 0.0
    for index in range(len(inside)):
        upper = inside[index + 1, 0] if index + 1 < len(inside) else reference[0]
        width = upper - inside[index, 0]
        if width > 0:
            volume += width * _area_2d(inside[: index + 1, 1:], reference[1:])
    return float(volume)


def _area_2d(points: np.ndarray, reference: np.ndarray) -> float:
    order = np.argsort(points[:, 0])
    area, best_second = 0.0, reference[1]
    for x, y in points[order]:
        if y < best_second:
            area += (reference[0] - x) * (best_second - y)
            best_second = y
    return float(area)
