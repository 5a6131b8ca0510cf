"""The algorithm of de Wynter (2020) as pure functions: T, ε-intervals, the random sample.

Algorithm 1 as restated (arXiv 2010.08512; the exact pseudo-code is not recovered), as
`bortnas.extraction.search` runs it — sources and our own choices are in docs/algorithm.md:
  1. Enumerate Ξ; compute p (exact parameters) and i (latency) of every candidate.
  2. T = the maximum point (largest p, ties by the most heads, then shape), or the user's
     reference. W(T) = 0, so T is not trained, nor any candidate of p ≥ p(T).
  3. ε-intervals: sort Ξ by p, cut it into consecutive intervals of ε candidates and keep one
     representative per interval (`epsilon_representatives`). At ε = 1 every candidate counts:
     a designed subset is trained, the error model fitted, and every candidate that could still
     be the pick (inside its tie band) trained in turn (`design.py`, `strategies.Fptas`).
  4. Train each kept candidate for s steps under every θ of Θ; its ê is the best over Θ.
  5. Return the argmax of W (`bortnas.extraction.wcoefficient`), with the Pareto front of (p, i, ê).
The paper bounds the run time by O(|Ξ| + |W*_T|(1 + |Θ||B||Ξ| / (ε s^{3/2}))). Our knobs: |Ξ| is
the space, |Θ| and |B| are `--theta` (its batch sizes), ε is `--epsilon` (|Ξ|/ε candidates are
trained), s is `--steps`. How s enters as s^{3/2} is not recovered: we train each student for
exactly s steps, so the training cost is ∝ |Θ| |B| s |Ξ| / ε.

Baselines over the same proxies (`strategies.py`): `exhaustive` (every candidate at
`REFERENCE_FACTOR` x s, the expensive reference), `random` (a seeded sample) and `nsga2`
(Optuna's NSGA-II).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ..core.architecture import Architecture
from ..core.errors import BortnasError

#: Reference budget multiplier of the `exhaustive` baseline.
REFERENCE_FACTOR = 10


def maximum_point(
    candidates: Sequence[Architecture], parameters: Callable[[Architecture], float]
) -> Architecture:
    """Step 2: the candidate with the most parameters; ties go to the most attention heads, then
    to the largest (D, H, I). A function of the space alone: breaking ties by measured latency
    made T flip between runs (A does not change p, and the A siblings time within noise)."""
    return max(candidates, key=lambda c: (parameters(c), c.heads, c.shape))


def scores_zero(
    candidates: Sequence[Architecture], p: Callable[[Architecture], float], p_t: float
) -> list[Architecture]:
    """Candidates that cannot score above 0 against a T of `p_t` parameters: W's size factor
    (p_T − p)/p_T is 0 for them whatever their error, so training them would be wasted."""
    return [c for c in candidates if p(c) >= p_t]


def epsilon_representatives(
    candidates: Sequence[Architecture],
    epsilon: int,
    parameters: Callable[[Architecture], float],
    cheap_score: Callable[[Architecture], float],
) -> list[Architecture]:
    """Step 3: sort by p, cut into consecutive intervals of ε, keep one candidate per interval.

    The representative (our rule; the source does not say) is the interval's candidate with the
    best `cheap_score` — W's parameter and latency factors, known for every candidate before any
    training — i.e. the one that would win its interval if the errors inside it were equal. Ties
    go to the smaller p, then the smaller shape. ε = 1 keeps every candidate; ε = k keeps ⌈n/k⌉.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, int) or epsilon < 1:
        raise BortnasError(f"--epsilon must be a whole number >= 1, got {epsilon!r}")
    ordered = sorted(candidates, key=lambda c: (parameters(c), c.shape))
    kept = []
    for start in range(0, len(ordered), epsilon):
        interval = ordered[start : start + epsilon]
        kept.append(max(interval, key=lambda c: (cheap_score(c), -parameters(c), _neg(c.shape))))
    return kept


def _neg(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-value for value in shape)


def random_sample(candidates: Sequence[Architecture], count: int, seed: int) -> list[Architecture]:
    """The random baseline's seeded sample (at most `count` candidates)."""
    return random.Random(seed).sample(list(candidates), min(count, len(candidates)))
