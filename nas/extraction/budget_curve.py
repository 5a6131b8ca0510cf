"""The budget curve: W's pick and Bort's rank against the training budget, under a scaling law.

Why: a user choosing an architecture for a real pretraining budget needs to see how the answer
moves with that budget, not one number. Under a Chinchilla-form law a finite budget adds the same
B / D^β to every candidate's loss, which narrows the error ratios and hands the pick to smaller
models; at convergence only A / N^α separates them. The rows come from the sensitivity table's
own `standing` (one re-rank per budget and T, with `ranking.rank`); the plot only draws them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.architecture import Architecture
from .ranking import ReferencePoint
from .scaling_law import DEFAULT_LAW, get_law, law_parameters
from .sensitivity import law_readings, sensitivity_rows
from .wcoefficient import DEFAULT_EXPONENTS, Exponents

#: 1e7 to 1e13 tokens, four points a decade, then convergence.
DEFAULT_CURVE_BUDGETS: tuple[float, ...] = (*np.logspace(7, 13, 25).tolist(), math.inf)
COLUMNS = [
    "budget_tokens",
    "T",
    "pick",
    "pick_w",
    "tie_band",
    "bort_released_rank",
    "bort_paper_rank",
    "ranked",
]


def budget_curve(
    table: pd.DataFrame,
    references: Sequence[ReferencePoint],
    law: str = DEFAULT_LAW,
    budgets: Iterable[float] = DEFAULT_CURVE_BUDGETS,
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> pd.DataFrame:
    """One row per budget x T: the pick, its W, its tie band and Bort's rank (both shapes)."""
    rows = sensitivity_rows(table, references, law_readings(table, law, budgets), exponents)
    curve = pd.DataFrame(rows)
    curve["law"] = get_law(law).name
    return curve[[*COLUMNS, "law"]]


def _encoder_size(name: str) -> float:
    """N of a pick named D..-A..-H..-I..: orders the pick axis by size."""
    depth, heads, hidden, intermediate = (int(part[1:]) for part in name.split("-"))
    return float(law_parameters([Architecture(depth, heads, hidden, intermediate)])[0])


def _x(budgets: pd.Series, infinity_at: float) -> np.ndarray:
    values = budgets.to_numpy(dtype=float)
    return np.where(np.isinf(values), infinity_at, np.log10(np.where(np.isinf(values), 1, values)))


def plot_budget_curve(curve: pd.DataFrame, path: str | Path) -> Path:
    """Draw `budget_curve`'s rows to a PNG: Bort's rank (top) and the pick (bottom) per T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    finite = curve.loc[~np.isinf(curve["budget_tokens"].astype(float)), "budget_tokens"]
    top = math.log10(float(finite.max())) if len(finite) else 0.0
    infinity_at = top + 1.0
    picks = sorted(dict.fromkeys(curve["pick"]), key=_encoder_size)
    figure, (ranks, chosen) = plt.subplots(
        2, 1, figsize=(12, 4.5 + 0.28 * len(picks)), sharex=True, height_ratios=[3, 2]
    )
    styles = {"released": ("-", "o", "H1024/I768 (released)"), "paper": (":", "s", "H768/I1024")}
    for (reference, rows), colour in zip(
        curve.groupby("T", sort=False), ("C0", "C3"), strict=False
    ):
        x = _x(rows["budget_tokens"], infinity_at)
        for label, (line, marker, name) in styles.items():
            y = rows[f"bort_{label}_rank"].astype(float)
            ranks.plot(
                x, y, line, marker=marker, ms=3, color=colour, label=f"Bort {name}, T = {reference}"
            )
        chosen.step(
            x,
            [picks.index(p) for p in rows["pick"]],
            where="mid",
            color=colour,
            marker="o",
            ms=3,
            label=f"T = {reference} (pick's tie band: "
            f"{rows['tie_band'].min()}–{rows['tie_band'].max()} candidates)",
        )
    ranked = int(curve["ranked"].max())
    ranks.set_ylabel(f"Bort's rank by W (of {ranked})")
    ranks.invert_yaxis()
    ranks.grid(alpha=0.3)
    ranks.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    chosen.set_yticks(range(len(picks)), picks, fontsize=7)
    chosen.set_ylabel("W's pick (by N)")
    chosen.grid(alpha=0.3)
    chosen.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ticks = [t for t in range(math.ceil(float(np.log10(finite.min()))), int(top) + 1)]
    chosen.set_xticks([*ticks, infinity_at], [f"1e{t}" for t in ticks] + ["∞"])
    chosen.set_xlabel("training budget D (tokens; ∞ = converged)")
    law = curve["law"].iloc[0] if "law" in curve else "scaling law"
    figure.suptitle(
        f"W's pick and Bort's rank against the training budget: ê = {law} law\n"
        "(fitted on decoder-only LMs in nats/token; N = encoder parameters; only ratios enter W)",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
