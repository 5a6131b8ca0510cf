"""The pictures a search leaves: Pareto projections, the W ranking with its band, the budget curve.

Why plain data first: `w_ranking_rows` computes what is drawn (tested), then the drawing only
renders it (Optuna's plotting pattern). Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..core.architecture import BORT
from ..core.files import atomic_path, content_digest, write_json_atomic
from . import budget_curve as budget_module
from .budget_curve import budget_curve, plot_budget_curve
from .latency_quality import latency_reliable

if TYPE_CHECKING:
    from .result import SearchResult


#: Where a run folder records what its pictures were drawn from.
DRAWN_FROM = ".plots.json"
#: The pictures, by their key in the search's outputs.
PICTURES = {
    "pareto_png": "pareto.png",
    "w_ranking_png": "w_ranking.png",
    "budget_curve_png": "budget_curve.png",
}


def plot_outputs(result: SearchResult) -> dict[str, str]:
    """The run's three PNGs, drawn again only when what they show has changed.

    Why: drawing takes about 2 s, most of a warm re-run, and a warm re-run of an unchanged
    search draws the same pictures. The key covers the ranked table, the pick, the config and
    the drawing code itself, so any change that could alter a picture draws them all again.
    """
    paths = {key: result.run_dir / name for key, name in PICTURES.items()}
    outputs = {key: str(path) for key, path in paths.items()}
    stamp = result.run_dir / DRAWN_FROM
    key = _drawn_key(result)
    try:
        unchanged = json.loads(stamp.read_text(encoding="utf-8")).get("key") == key
    except (OSError, ValueError, AttributeError):
        unchanged = False
    if unchanged and all(path.is_file() for path in paths.values()):
        return outputs
    _draw(result, paths)
    write_json_atomic(stamp, {"key": key})
    return outputs


def _drawn_key(result: SearchResult) -> str:
    code = [Path(f).read_text(encoding="utf-8") for f in (__file__, budget_module.__file__)]
    table = result.table.drop(columns=["architecture"]).to_csv()
    payload = [table, result.pick.id, result.optimizer, result.space.name, result.config.to_dict()]
    return content_digest([*payload, result.latency_quality, code])


def _draw(result: SearchResult, paths: dict[str, Path]) -> None:
    """Pairwise Pareto projections with the pick marked, the W ranking and the budget curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table
    pairs = (
        ("parameters", "latency_ms"),
        ("parameters", "error"),
        ("latency_ms", "error"),
    )
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    front = table[table["on_front"]]
    pick = table.loc[[result.pick.id]]
    bort = table.loc[[BORT.id]] if BORT.id in table.index else None
    for axis, (x, y) in zip(axes, pairs, strict=True):
        axis.scatter(table[x], table[y], s=10, c="lightgray", label="candidates")
        axis.scatter(front[x], front[y], s=16, c="tab:blue", label="Pareto front (3-D)")
        axis.scatter(pick[x], pick[y], s=120, marker="*", c="tab:red", label="pick (max W)")
        if bort is not None:
            axis.scatter(bort[x], bort[y], s=80, marker="^", c="tab:green", label="Bort")
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        if x == "parameters":
            axis.set_xscale("log")
    axes[0].legend(loc="best", fontsize=8)
    figure.suptitle(f"{result.optimizer} on {result.space.name}: pick {result.pick.name}")
    figure.tight_layout()
    with atomic_path(paths["pareto_png"]) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)

    draw_w_ranking(result, paths["w_ranking_png"])
    curve = budget_curve(result.table, result.references(), law=result.config.law)
    plot_budget_curve(curve, paths["budget_curve_png"])


def w_ranking_rows(result: SearchResult, count: int = 30) -> pd.DataFrame:
    """What `w_ranking.png` draws: the best `count` by W, with ±2σ of W, plus Bort wherever it
    ranks (plain data, tested apart from the drawing)."""
    table = result.table
    rows = table.head(count)
    if BORT.id in table.index and BORT.id not in rows.index:
        rows = pd.concat([rows, table.loc[[BORT.id]]])
    rows = rows.copy()
    rows["w_sigma"] = rows["w_relative_sigma"] * rows["w"]
    rows["label"] = [
        f"#{r.rank} {r.D}-{r.A}-{r.H}-{r.I}" + (" Bort" if i == BORT.id else "")
        for i, r in zip(rows.index, rows.itertuples(), strict=True)
    ]
    return rows


def draw_w_ranking(result: SearchResult, path: Any) -> None:
    """W with its uncertainty, the tie band shaded, and Bort marked with its rank."""
    import matplotlib.pyplot as plt

    rows = w_ranking_rows(result)
    figure, axis = plt.subplots(figsize=(11, 5))
    positions = range(len(rows))
    colours = [
        "tab:red" if i == result.pick.id else "tab:green" if i == BORT.id else "tab:blue"
        for i in rows.index
    ]
    axis.bar(positions, rows["w"], color=colours, yerr=2 * rows["w_sigma"], capsize=2)
    band = [n for n, inside in enumerate(rows["in_tie_band"]) if inside]
    if band:
        size = int(result.table["in_tie_band"].sum())
        axis.axvspan(
            min(band) - 0.5, max(band) + 0.5, color="gold", alpha=0.25, label=f"tie band ({size})"
        )
    axis.set_xticks(list(positions), rows["label"], rotation=75, fontsize=7)
    axis.set_ylabel("W-coefficient (relative to T; larger is better), ±2σ")
    reliable = "" if latency_reliable(result.latency_quality) else " (latency UNRELIABLE)"
    axis.set_title(
        f"W ranking: best {min(30, len(result.table))} of {len(result.table)} candidates"
        + (", and Bort" if BORT.id in rows.index and rows.index[-1] == BORT.id else "")
        + f"; T = {result.reference.architecture.name}{reliable}"
    )
    if band:
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
