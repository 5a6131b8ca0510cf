"""What the answer depends on: the pick, its tie band and Bort's rank under each reading of ê.

Why: W divides by ê, so the pick is decided by what "error" means and at which training budget it
is read. One search already holds every candidate's p and i; re-ranking them with another ê costs
nothing, so the report can show the answer under each reading instead of one number: the measured
ê, the fitted ê, a scaling law at several budgets and, where given, a reference CSV; each against
both readings of T (the space's maximum point, BERT-large) and both readings of Bort's shape (the
released D4-A8-H1024-I768; D4-A8-H768-I1024, which the paper's size and speed figures fit).
Ranking is `ranking.rank`'s, called on a copy; readings that cover only some candidates (a
reference CSV) rank those alone, and the row says so. Plain rows first (tested), printing after.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.architecture import BORT, SYMBOLS, Architecture
from ..core.errors import DataError
from .error_model import apply_error_model
from .ranking import ReferencePoint, error_reduction_needed, rank
from .scaling_law import DEFAULT_BUDGETS, DEFAULT_LAW, budget_label, get_law, law_error
from .wcoefficient import DEFAULT_EXPONENTS, Exponents

Shape = tuple[int, int, int, int]
#: Bort's shape, two readings: as released, and as the paper's size and speed figures fit it.
BORT_SHAPES: dict[str, Shape] = {"released": BORT.shape, "paper": (4, 8, 768, 1024)}
#: The columns `ranking.rank` reads; every other column of the search's table is left out.
RANK_COLUMNS = [*SYMBOLS, "parameters", "latency_ms", "latency_spread_ms"]


@dataclass(frozen=True)
class ErrorReading:
    """One meaning of ê: a value per candidate id (all or some), and its noise for the band.

    `noise` is the σ of ê per candidate; None means the candidates' own seed spread (or the
    assumed seed noise), as a search ranks its measured ê.
    """

    name: str
    kind: str
    errors: pd.Series
    noise: pd.Series | None = None
    budget_tokens: float | None = None
    law: str | None = None
    note: str = ""


def _shapes(table: pd.DataFrame) -> list[Shape]:
    return [tuple(int(v) for v in row) for row in table[list(SYMBOLS)].to_numpy()]


def _name(shape: Shape) -> str:
    return "D{}-A{}-H{}-I{}".format(*shape)


def measured_reading(table: pd.DataFrame) -> ErrorReading | None:
    """ê as each candidate's training gave it (`error_measured`); only finite values count, and
    None when no candidate was trained (a `--error-model law` run)."""
    column = "error_measured" if "error_measured" in table else "error"
    errors = table[column].astype(float)
    errors = errors[np.isfinite(errors)]
    if errors.empty:
        return None
    note = "" if len(errors) == len(table) else f"covers {len(errors)} of {len(table)} candidates"
    return ErrorReading("measured ê", "measured", errors, note=note)


def fitted_reading(table: pd.DataFrame) -> ErrorReading | None:
    """ê of the error model: the search's own fit, or fitted here from the measured ê when the
    search ranked by something else (measured ê, or a law: `apply_law` marks its table)."""
    if "error_model_std" in table and "error_law" not in table:
        errors, noise = table["error"].astype(float), table["error_model_std"]
        return ErrorReading("fitted ê", "fitted", errors, noise)
    measured = measured_reading(table)
    if measured is None:
        return None  # nothing trained: nothing to fit
    frame = table[list(SYMBOLS)].copy()
    frame["error"] = measured.errors  # NaN where not trained: the model predicts those
    fitted, _ = apply_error_model(frame, "quadratic")
    if "error_model_std" not in fitted:
        return None  # too few candidates, or unusable errors: the fit was skipped
    note = "fitted here (the search did not rank by the fit)"
    return ErrorReading(
        "fitted ê",
        "fitted",
        fitted["error"],
        fitted["error_model_std"],
        note=note,
    )


def law_readings(
    table: pd.DataFrame, law: str = DEFAULT_LAW, budgets: Iterable[float] = DEFAULT_BUDGETS
) -> list[ErrorReading]:
    """The scaling law's ê at each budget; a law has no seed noise (σ = 0)."""
    scaling_law = get_law(law)
    architectures = [Architecture(*shape) for shape in _shapes(table)]
    readings = []
    for tokens in budgets:
        values = law_error(architectures, tokens, scaling_law)
        readings.append(
            ErrorReading(
                f"{scaling_law.name} @ {budget_label(float(tokens))}",
                "law",
                pd.Series(values, index=table.index),
                pd.Series(0.0, index=table.index),
                budget_tokens=float(tokens),
                law=scaling_law.name,
            )
        )
    return readings


def load_reference_errors(path: str | Path) -> dict[str, dict[Shape, dict[str, Any]]]:
    """loss -> shape -> {error (best θ's seed mean), std (its seed sd), seeds, rate, fidelity}.

    Reads the format of `benchmarks/results/error_reference.csv`. The best θ is recomputed from
    the rows (lowest seed mean). Where a loss holds several fidelities, the one with the most
    shapes is used. Only shapes are read: the reference's context need not be the search's.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: reference errors not found (a CSV like error_reference.csv)")
    groups: dict[tuple, dict[Shape, dict[float, dict[int, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    with path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            try:
                shape = (int(row["D"]), int(row["A"]), int(row["H"]), int(row["I"]))
                fidelity = (
                    row["loss"],
                    int(row["steps"]),
                    float(row["width_scale"]),
                    int(row["sequence_length"]),
                    int(row.get("batch_size") or 0),
                    row.get("device", ""),
                )
                rate, seed = float(row["learning_rate"]), int(row["seed"])
                groups[fidelity][shape][rate][seed] = float(row["error"])
            except (KeyError, TypeError, ValueError):
                continue
    if not groups:
        raise DataError(f"{path}: no usable rows (columns D, A, H, I, loss, steps, error, ...)")
    reference: dict[str, dict[Shape, dict[str, Any]]] = {}
    for loss in sorted({f[0] for f in groups}):
        fidelity = max((f for f in groups if f[0] == loss), key=lambda f: len(groups[f]))
        table = {}
        for shape, by_rate in groups[fidelity].items():
            rates = {rate: np.array(list(seeds.values())) for rate, seeds in by_rate.items()}
            best = min(rates, key=lambda rate: rates[rate].mean())
            values = rates[best]
            table[shape] = {
                "error": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
                "seeds": len(values),
                "rate": best,
                "fidelity": fidelity,
            }
        reference[loss] = table
    return reference


def reference_readings(table: pd.DataFrame, path: str | Path) -> list[ErrorReading]:
    """One reading per loss of a reference CSV, on the candidates whose shape it holds."""
    readings = []
    for loss, by_shape in load_reference_errors(path).items():
        ids = [i for i, s in zip(table.index, _shapes(table), strict=True) if s in by_shape]
        shapes = [by_shape[s] for s in _shapes(table) if s in by_shape]
        if not ids:
            continue
        errors = pd.Series([e["error"] for e in shapes], index=ids)
        noise = pd.Series([e["std"] for e in shapes], index=ids).fillna(0.0)
        note = f"covers {len(ids)} of {len(table)} candidates; only those are ranked"
        readings.append(ErrorReading(f"reference ({loss})", "reference", errors, noise, note=note))
    return readings


def error_readings(
    table: pd.DataFrame,
    *,
    law: str = DEFAULT_LAW,
    budgets: Iterable[float] = DEFAULT_BUDGETS,
    reference_errors: str | Path | None = None,
) -> list[ErrorReading]:
    """Every reading a run has: measured (when trained), fitted (when a fit is possible), the
    law at each budget, and each loss of the reference CSV when one is given."""
    readings = [r for r in (measured_reading(table), fitted_reading(table)) if r is not None]
    readings += law_readings(table, law, budgets)
    if reference_errors is not None:
        readings += reference_readings(table, reference_errors)
    return readings


def standing(
    table: pd.DataFrame,
    reading: ErrorReading,
    reference: ReferencePoint,
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> dict[str, Any]:
    """One row: the pick, its W and tie band, and Bort's rank (both shapes) under one reading."""
    covered = [i for i in table.index if i in reading.errors.index]
    frame = table.loc[covered, RANK_COLUMNS].copy()
    frame["error"] = reading.errors.loc[covered].astype(float)
    frame["error_seed_std"] = (
        table.loc[covered, "error_seed_std"] if "error_seed_std" in table else np.nan
    )
    if reading.noise is not None:
        frame["error_model_std"] = reading.noise.loc[covered].astype(float)
    ranked = rank(frame, reference, exponents=exponents)
    pick = ranked.iloc[0]
    pick_w = float(pick["w"])
    row: dict[str, Any] = {
        "reading": reading.name,
        "kind": reading.kind,
        "law": reading.law,
        "budget_tokens": reading.budget_tokens,
        "T": reference.architecture.name,
        "T_source": reference.source,
        "ranked": len(ranked),
        "of": len(table),
        "pick": _name(_shapes(ranked.iloc[:1])[0]),
        "pick_w": pick_w,
        "tie_band": int(ranked["in_tie_band"].sum()),
        "note": reading.note,
    }
    shapes = _shapes(ranked)
    for label, shape in BORT_SHAPES.items():
        position = shapes.index(shape) if shape in shapes else None
        bort = ranked.iloc[position] if position is not None else None
        row[f"bort_{label}_rank"] = None if bort is None else int(bort["rank"])
        row[f"bort_{label}_w_share"] = (
            None if bort is None or pick_w <= 0 else float(bort["w"]) / pick_w
        )
        row[f"bort_{label}_in_band"] = None if bort is None else bool(bort["in_tie_band"])
        row[f"bort_{label}_error_cut"] = (
            None
            if bort is None
            else error_reduction_needed(float(bort["w"]), pick_w, exponents.gamma)
        )
    return row


def sensitivity_rows(
    table: pd.DataFrame,
    references: Sequence[ReferencePoint],
    readings: Sequence[ErrorReading],
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> list[dict[str, Any]]:
    """`standing` for each reading x each T, readings in the given order."""
    return [
        standing(table, reading, reference, exponents)
        for reading in readings
        for reference in references
    ]


def sensitivity_table(
    table: pd.DataFrame,
    references: Sequence[ReferencePoint],
    *,
    law: str = DEFAULT_LAW,
    budgets: Iterable[float] = DEFAULT_BUDGETS,
    reference_errors: str | Path | None = None,
    exponents: Exponents = DEFAULT_EXPONENTS,
) -> pd.DataFrame:
    """The sensitivity table of a ranked search table, as a DataFrame (one row per reading x T)."""
    readings = error_readings(table, law=law, budgets=budgets, reference_errors=reference_errors)
    return pd.DataFrame(sensitivity_rows(table, references, readings, exponents))


def _bort_cell(row: dict[str, Any], label: str) -> str:
    rank_value = row.get(f"bort_{label}_rank")
    if rank_value is None or (isinstance(rank_value, float) and math.isnan(rank_value)):
        return "—"
    band = "*" if row.get(f"bort_{label}_in_band") else ""
    return f"{int(rank_value)}/{row['ranked']} ({row[f'bort_{label}_w_share']:.0%}){band}"


def print_sensitivity(rows: Iterable[dict[str, Any]], console: Any = None) -> None:
    """The rows as a rich table; Bort's cell: rank/ranked (its W as a share of the pick's),
    * when inside the tie band."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="What the pick depends on: each reading of ê, each T",
        caption="Bort: rank/ranked (W as a share of the pick's W); * inside the pick's tie band",
    )
    table.add_column("reading of ê")
    for column in ("T", "pick"):
        table.add_column(column, no_wrap=True)
    table.add_column("band", justify="right")
    for column in ("Bort H1024/I768", "Bort H768/I1024"):
        table.add_column(column, no_wrap=True)
    notes: dict[str, None] = {}
    for row in rows:
        table.add_row(
            row["reading"],
            row["T"],
            row["pick"],
            str(row["tie_band"]),
            _bort_cell(row, "released"),
            _bort_cell(row, "paper"),
        )
        if row.get("note"):
            notes[f"{row['reading']}: {row['note']}"] = None
    console = console or Console()
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
