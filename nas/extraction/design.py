"""Which candidates to train first: a D-optimal design for the error model's terms, corners first.

Why: W uses ê fitted by the error model (a 15-term quadratic on bert-large), not each
candidate's own measurement, and a 15-term least-squares fit does not need 299 training runs.
The rule, stated from the architecture alone (no timing, no training): standardise (D, log2 A,
log2 H, log2 I) over the space as the error model does, start from the corners of the space (the
candidates whose every varying dimension is at its smallest or largest value), then add, one at
a time, the candidate whose fitted value the design so far knows least (largest x (XᵀX)⁻¹ xᵀ:
the greedy D-optimal step), until `POINTS_PER_TERM` points per model term are chosen. Ties go
to the smaller shape, so the design is the same on every machine. The search then verifies the
top (`strategies.Fptas`): every untrained candidate inside the pick's tie band is trained and
the model refitted, until the band holds no predicted candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.architecture import Architecture
from .error_model import CANDIDATES_PER_TERM, dimensions_of, quadratic_features

#: Points per model term in the design: 3 is the fit's floor; 4 leaves residual degrees of
#: freedom for the fit's standard errors (60 points for bert-large's 15 terms).
POINTS_PER_TERM = 4
#: Keeps (XᵀX)⁻¹ defined while the design has fewer points than terms.
_RIDGE = 1e-6


def corners(candidates: Sequence[Architecture]) -> list[Architecture]:
    """Candidates whose every varying dimension sits at an end of its range in the space."""
    shapes = np.array([c.shape for c in candidates])
    low, high = shapes.min(axis=0), shapes.max(axis=0)
    varying = low != high
    at_end = (shapes == low) | (shapes == high)
    return [c for c, ends in zip(candidates, at_end, strict=True) if ends[varying].all()]


def d_optimal_design(
    candidates: Sequence[Architecture], points_per_term: int = POINTS_PER_TERM
) -> list[Architecture]:
    """The design rule above: corners, then greedy D-optimal additions; in the space's order."""
    ordered = sorted(candidates, key=lambda c: c.shape)
    if not ordered:
        return []
    features = quadratic_features(dimensions_of(ordered))
    terms = int(np.linalg.matrix_rank(features))
    target = min(len(ordered), max(points_per_term, CANDIDATES_PER_TERM) * terms)
    chosen = [ordered.index(c) for c in corners(ordered)][:target]
    while len(chosen) < target:
        known = features[chosen]
        inverse = np.linalg.pinv(known.T @ known + _RIDGE * np.eye(features.shape[1]))
        variance = np.einsum("ij,jk,ik->i", features, inverse, features)
        variance[chosen] = -np.inf
        chosen.append(int(np.argmax(variance)))  # argmax keeps the first: the smaller shape
    picked = {ordered[i] for i in chosen}
    return [c for c in candidates if c in picked]
