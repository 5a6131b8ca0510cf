"""Agora's hyper-parameter set Θ: its built-in grids and the pruning rules (θ itself and Θ files
are the shared base's, `bortnas.core.theta`).

Why its own module: Θ is declared by users (TOML or JSON files, or the built-in grids), checked
once with one-line errors, and pruned between Agora rounds by a rule that is a named parameter.

Pruning (the paper's rule is not published in full):
- `halving` (default): keep the better half, rounded up. The paper's stated ratio
  2(1 - 2^-|Θ|) correspond to this; |Θ| = 8 runs rounds of 8, 4, 2, 1 configurations.
- `common-prefix`: our reading of the author's blog ("removes the hyperparameters belonging to
  the longest common sequence, rooted at the first element"): with Θ sorted worst first, drop the
  longest run, starting at the worst θ, whose members share one setting with that worst θ
  (settings that all of Θ shares are ignored).
- `drop-worst`: drop the single worst θ (|Θ| rounds; the slowest, most careful rule).
Every rule keeps at least one θ; ties keep Θ's declared order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path

from ..core.theta import Hyperparameters, ThetaError, grid, read_theta_file

#: Default Θ for a small student trained from random weights at a few hundred examples (8 θ).
#: Bort's own grid (below) targets a pretrained Bort; its learning rates of 1e-5 barely move a
#: randomly initialised student in a few hundred steps.
DEFAULT_THETA = grid(learning_rate=[5e-4, 1e-3], batch_size=[16, 32], seed=[0, 1])
#: The grid alexa/bort recommends for Agora (docs/algorithm.md, sources): 5 x 3 x 4 x 4 x 2 = 480 θ.
BORT_THETA = grid(
    seed=[0, 1, 2, 3, 4],
    learning_rate=[1e-4, 1e-5, 9e-6],
    weight_decay=[0, 10, 100, 350],
    warmup=[0.35, 0.40, 0.45, 0.50],
    batch_size=[8, 16],
)
BUILTIN_THETAS = {"default": DEFAULT_THETA, "bort": BORT_THETA}


def load_theta(source: str | Path) -> list[Hyperparameters]:
    """Θ from `default`, `bort` (Agora's built-in grids), or a .toml/.json file."""
    if str(source) in BUILTIN_THETAS:
        return list(BUILTIN_THETAS[str(source)])
    return read_theta_file(source)


PruningRule = Callable[[Sequence[Hyperparameters]], list[Hyperparameters]]


def prune_halving(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    return list(ranked[: math.ceil(len(ranked) / 2)])


def prune_drop_worst(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    return list(ranked[: max(1, len(ranked) - 1)])


def prune_common_prefix(ranked: Sequence[Hyperparameters]) -> list[Hyperparameters]:
    worst_first = list(reversed(ranked))
    longest = 1
    for field in fields(Hyperparameters):
        value = getattr(worst_first[0], field.name)
        if all(getattr(theta, field.name) == value for theta in worst_first):
            continue  # a setting all of Θ shares distinguishes nothing
        run = 1
        while run < len(worst_first) and getattr(worst_first[run], field.name) == value:
            run += 1
        longest = max(longest, run)
    return list(ranked[: max(1, len(ranked) - longest)])


PRUNING_RULES: dict[str, PruningRule] = {
    "halving": prune_halving,
    "common-prefix": prune_common_prefix,
    "drop-worst": prune_drop_worst,
}


def pruning_rule(name: str) -> PruningRule:
    if name not in PRUNING_RULES:
        raise ThetaError(f"unknown pruning rule {name!r}; choose from {', '.join(PRUNING_RULES)}")
    return PRUNING_RULES[name]
