"""The project's one learning-rate schedule: linear warm-up, then linear decay to zero.

Why one function: the error proxy's students and Agora's classifiers both train under Bort's
schedule; one definition keeps the two from drifting apart (rounding of the warm-up included).
"""

from __future__ import annotations


def linear_warmup_decay(step: int, total: int, warmup_fraction: float) -> float:
    """The LR factor at 0-based `step` of `total` steps.

    The warm-up lasts `max(1, round(warmup_fraction * total))` steps, rising to 1 at its last
    step; the factor then falls linearly to 0 at `total`.
    """
    warm = max(1, round(warmup_fraction * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))
