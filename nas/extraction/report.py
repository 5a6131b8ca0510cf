"""What a search leaves behind: tables on the terminal, CSV/Parquet, PNG plots, the exported pick
and `summary.json`.

Why plain data first: `top_rows` and `front_rows` compute what is shown (tested), then the
drawing functions only render it (Optuna's plotting pattern). Every file is written atomically or
in full before the summary that lists it, so a crash never leaves a summary pointing at nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from ..core.architecture import BORT, Architecture
from ..core.files import atomic_path, write_json_atomic
from .export import export_architecture
from .latency_quality import latency_quality_line, latency_reliable
from .plots import plot_outputs
from .sensitivity import print_sensitivity
from .store import mask_url

if TYPE_CHECKING:
    from .result import SearchResult

COLUMNS = (
    ("D", "D"),
    ("A", "A"),
    ("H", "H"),
    ("I", "I"),
    ("parameters_total", "params"),
    ("parameters_without_embeddings", "w/o emb"),
    ("latency_ms", "lat ms"),
    ("error", "error"),
    ("error_measured", "measured"),
    ("theta_learning_rate", "θ lr"),
    ("w", "W"),
    ("in_tie_band", "band"),
)


def compact_count(value: float) -> str:
    """76158976 -> '76.16M': exact counts are in the CSV; the terminal needs to fit 80 columns."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.2f}{suffix}"
    return str(int(value))


def _format(key: str, value: Any) -> str:
    if isinstance(value, float) and value != value:
        return ""  # not measured (predicted by the error model, or a law reading)
    if key.startswith("parameters"):
        return compact_count(value)
    if key == "latency_ms":
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if key in ("error", "error_measured", "w"):
        return f"{value:.4f}"
    if key in ("on_front", "in_tie_band"):
        return "yes" if value else ""
    if key == "theta_learning_rate":
        return "" if value is None or value != value else f"{value:g}"
    return str(value)


def top_rows(result: SearchResult, count: int = 10) -> pd.DataFrame:
    """The `count` candidates with the largest W-coefficient (the pick first)."""
    return result.table.head(count)


def rich_table(rows: pd.DataFrame, title: str, *, marks: dict[str, str] | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    for _, label in COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("")
    for rank, (identifier, row) in enumerate(rows.iterrows(), 1):
        cells = [_format(key, row[key]) for key, _ in COLUMNS]
        table.add_row(str(rank), *cells, (marks or {}).get(identifier, ""))
    return table


def headline(result: SearchResult) -> list[str]:
    """The closing lines: the pick, its tie band with the latency's quality beside it, T, and
    Bort's standing (plain text)."""
    pick = result.table.iloc[0]
    band = result.tie_band
    reliable = latency_reliable(result.latency_quality)
    lines = [
        f"pick: D={result.pick.depth} A={result.pick.heads} H={result.pick.hidden} "
        f"I={result.pick.intermediate} (W={pick['w']:.4f}; "
        f"T = {result.reference.architecture.name}, {result.reference.source})",
        f"tie band: {len(band)} candidate(s) within the noise of the proxies of the pick's W"
        + ("" if reliable else " (UNRELIABLE: the latency calibration failed its gate)")
        + ": "
        + ", ".join(Architecture.from_dict(a).name for a in band["architecture"].head(8))
        + (" ..." if len(band) > 8 else ""),
        latency_quality_line(result.latency_quality),
    ]
    if result.untrained:
        lines.append(
            f"not trained: {len(result.untrained)} candidate(s) that cannot score above 0 "
            "(T, and those of T's size: W's size factor is 0): "
            + ", ".join(list(result.untrained)[:4])
        )
    if result.bort is not None:
        bort = result.bort
        lines.append(
            f"Bort (D4-A8-H1024-I768): rank {bort['rank']} of {bort['of']}, W={bort['w']:.4f}"
            + (", inside the tie band (within the proxies' noise)" if bort["in_tie_band"] else "")
            + (
                f"; to overtake the pick, Bort's error would have to be "
                f"{100 * bort['error_reduction_to_overtake']:.1f} % lower"
                if bort["rank"] > 1
                else ""
            )
        )
    model = result.error_model
    if model["model"] == "law":
        budget = model["budget_tokens"]
        lines.append(
            f"error: the scaling law {model['name']} at "
            + ("convergence" if budget == float("inf") else f"{budget:.0e} tokens")
            + f" (no student trained; {model['source']}); only ratios of its losses matter to "
            "W, and the law was fitted on decoder-only language models (docs/algorithm.md)"
        )
    elif model["model"] != "none":
        lines.append(
            f"error: the {model['model']} error model over {model['candidates']} trained "
            f"candidates (R² {model['r_squared']:.3f}, residual sd {model['residual_sd_log']:.3f} "
            "in log ê); each candidate's own training result is in the column 'measured'"
        )
    if result.alternative is not None:
        alt = result.alternative
        text = f"with T = BERT-large: pick {alt['pick']} (W={alt['pick_w']:.4f})"
        if alt["bort"] is not None:
            text += f", Bort rank {alt['bort']['rank']} of {alt['bort']['of']}"
        lines.append(text)
    return lines


def print_report(result: SearchResult, console: Console, *, top: int = 10) -> None:
    """The terminal report: settings and budget, top candidates by W, the front, the pick."""
    marks = {result.pick.id: "pick", BORT.id: "Bort"}
    theta = result.config.theta
    console.print(
        f"[bold]{result.optimizer}[/] on [bold]{result.space.name}[/] "
        f"({result.space.size} candidates, ε={result.config.epsilon}: {result.selected} trained): "
        f"s={result.steps_per_candidate} steps x |Θ|={len(theta)} x {result.config.seeds} "
        f"seed(s) per candidate; {result.study_training_steps:,} replica-steps in this study "
        f"({result.cost.training_steps:,} by this process this time)"
    )
    console.print(rich_table(top_rows(result, top), f"top {top} by W-coefficient", marks=marks))
    console.print(
        rich_table(result.front, "Pareto front (parameters, latency, error)", marks=marks)
    )
    if result.sensitivity:
        print_sensitivity(result.sensitivity, console)
    for line in headline(result):
        console.print(line, markup=False, highlight=False)
    console.print(
        f"latency epoch {result.latency_epoch} of study {result.study_name}; "
        f"{result.seconds:.1f} s; results in {result.run_dir}",
        highlight=False,
    )
    if result.failed:
        console.print(f"[yellow]{len(result.failed)} candidate(s) failed:[/] {result.failed}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


def write_outputs(result: SearchResult) -> dict[str, str]:
    """Write every artefact into the run folder; returns name -> path."""
    run_dir = result.run_dir
    outputs: dict[str, str] = {}
    table = result.table.drop(columns=["architecture"])
    csv_path = run_dir / "candidates.csv"
    with atomic_path(csv_path) as temporary:
        table.to_csv(temporary, index=False)
    outputs["candidates_csv"] = str(csv_path)
    try:
        parquet_path = run_dir / "candidates.parquet"
        with atomic_path(parquet_path) as temporary:
            table.to_parquet(temporary, index=False)
        outputs["candidates_parquet"] = str(parquet_path)
    except ImportError:  # pyarrow is optional: CSV always exists
        pass
    outputs.update(plot_outputs(result))
    pick_row = result.table.loc[result.pick.id]
    config = export_architecture(
        result.pick,
        run_dir / "pick",
        {
            "space": result.space.name,
            "optimizer": result.optimizer,
            "w_coefficient": float(pick_row["w"]),
            "theta": {
                "learning_rate": _plain(pick_row.get("theta_learning_rate")),
                "batch_size": _plain(pick_row.get("theta_batch_size")),
            },
            "proxies": {
                "parameters": float(pick_row["parameters"]),
                "latency_ms": float(pick_row["latency_ms"]),
                "error": float(pick_row["error"]),
                "error_measured": _plain(pick_row.get("error_measured")),
                "error_model": result.error_model["model"],
            },
            "reference": result.reference.to_dict(),
        },
    )
    outputs["pick_config"] = str(config)
    summary_path = run_dir / "summary.json"
    outputs["summary"] = str(summary_path)
    write_json_atomic(summary_path, json_safe(summary(result, outputs)))
    return outputs


def summary(result: SearchResult, outputs: dict[str, str]) -> dict[str, Any]:
    top = top_rows(result, 10).drop(columns=["architecture"])
    return {
        "space": result.space.name,
        "space_size": result.space.size,
        "optimizer": result.optimizer,
        "config": result.config.to_dict() | {"storage": mask_url(result.config.storage)},
        "w_formula": "((p_T - p)/p_T)^alpha * ((i_T - i)/i_T)^beta * (1/max(error, 1e-4))^gamma",
        "study": {"storage": mask_url(result.storage), "name": result.study_name},
        "steps_per_candidate": result.steps_per_candidate,
        "selected": result.selected,
        "evaluated": len(result.table),
        "failed": result.failed,
        "cost": result.cost.to_dict() | {"study_training_steps": result.study_training_steps},
        "wall_seconds": round(result.seconds, 3),
        "reference": result.reference.to_dict(),
        "latency_epoch": result.latency_epoch,
        "latency_quality": result.latency_quality,
        "latency_reliable": latency_reliable(result.latency_quality),
        "untrained": result.untrained,
        "error_model": result.error_model,
        "pick": result.pick.to_dict() | {"name": result.pick.name},
        "pick_w": float(result.table.iloc[0]["w"]),
        "tie_band": result.tie_band["id"].tolist(),
        "bort": result.bort,
        "with_bert_large_as_reference": result.alternative,
        "sensitivity": result.sensitivity,
        "headline": headline(result),
        "notes": result.notes,
        "front": result.front["id"].tolist(),
        "top10": json.loads(top.to_json(orient="records")),
        "outputs": outputs,
    }


def _plain(value: Any) -> Any:
    """A table cell as JSON can hold it: None for an empty (NaN) cell, else a plain number."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def json_safe(value: Any) -> Any:
    """Strict JSON: an infinite budget as the string "inf", an empty (NaN) cell as null."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value
