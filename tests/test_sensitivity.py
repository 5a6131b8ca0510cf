"""The sensitivity table and the budget curve, on a four-candidate table whose W is done by hand.

T has p = 100, i = 10 (and a second T with p = 200, i = 20), so W = (1 - p/100)(1 - i/10) / ê.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bortnas.core.architecture import Architecture
from bortnas.core.errors import DataError
from bortnas.extraction.budget_curve import budget_curve, plot_budget_curve
from bortnas.extraction.error_model import apply_error_model
from bortnas.extraction.ranking import ReferencePoint, rank
from bortnas.extraction.scaling_law import apply_law
from bortnas.extraction.sensitivity import (
    error_readings,
    law_readings,
    measured_reading,
    print_sensitivity,
    reference_readings,
    sensitivity_rows,
    sensitivity_table,
)

SMALL, RELEASED, PAPER, OTHER = (
    (2, 4, 512, 256),
    (4, 8, 1024, 768),
    (4, 8, 768, 1024),
    (2, 8, 768, 256),
)
# shape: (p, i, measured ê); W = (1 - p/100)(1 - i/10)/ê:
#   SMALL 0.8*0.8/0.5 = 1.28; PAPER 0.7*0.7/0.45 = 1.0889; OTHER 0.75*0.75/0.52 = 1.0817;
#   RELEASED 0.6*0.6/0.4 = 0.9
VALUES = {SMALL: (20, 2, 0.5), RELEASED: (40, 4, 0.4), PAPER: (30, 3, 0.45), OTHER: (25, 2.5, 0.52)}


def _table(**extra) -> pd.DataFrame:
    rows = []
    for shape, (p, i, e) in VALUES.items():
        architecture = Architecture(*shape)
        rows.append(
            {
                "id": architecture.id,
                "D": shape[0],
                "A": shape[1],
                "H": shape[2],
                "I": shape[3],
                "parameters": float(p),
                "latency_ms": float(i),
                "latency_spread_ms": 0.0,
                "error": e,
                "error_measured": e,
                "error_seed_std": 1e-4,
                "architecture": architecture.to_dict(),
            }
        )
    table = pd.DataFrame(rows).set_index("id", drop=False)
    for column, values in extra.items():
        table[column] = values
    return table


def _t(p: float, i: float, shape=(12, 16, 1024, 3072)) -> ReferencePoint:
    return ReferencePoint(Architecture(*shape), p, i, "test")


T_MAX, T_LARGE = _t(100, 10), _t(200, 20, (24, 16, 1024, 4096))


def test_measured_reading_by_hand():
    table = _table()
    [row] = sensitivity_rows(table, [T_MAX], [measured_reading(table)])
    assert row["pick"] == "D2-A4-H512-I256"
    assert row["pick_w"] == pytest.approx(1.28)
    assert row["tie_band"] == 1  # seed sd 1e-4: nothing else within noise
    assert row["bort_released_rank"] == 4
    assert row["bort_paper_rank"] == 2
    assert row["bort_released_w_share"] == pytest.approx(0.9 / 1.28)
    assert row["bort_paper_w_share"] == pytest.approx((0.49 / 0.45) / 1.28)
    assert row["bort_released_error_cut"] == pytest.approx(1 - 0.9 / 1.28)
    assert row["ranked"] == row["of"] == 4
    assert row["T"] == "D12-A16-H1024-I3072"


def test_the_second_t_changes_w_and_the_pick():
    # T = (200, 20): SMALL 0.9*0.9/0.5 = 1.62, RELEASED 0.8*0.8/0.4 = 1.6, PAPER 0.85²/0.45 = 1.6056
    table = _table()
    small, large = sensitivity_rows(table, [T_MAX, T_LARGE], [measured_reading(table)])
    assert small["T"] != large["T"] == "D24-A16-H1024-I4096"
    assert large["pick"] == "D2-A4-H512-I256"
    assert large["pick_w"] == pytest.approx(1.62)
    assert large["bort_paper_rank"] == 2
    assert large["bort_released_rank"] == 3


def test_fitted_reading_uses_the_models_values_and_noise():
    # The fit says RELEASED's ê is 0.2: W 0.36 / 0.2 = 1.8 beats SMALL's 1.28. Its σ (0.01) on
    # 0.2 is 5 %: W_SMALL is 0.52 below, outside 3.6σ (0.32) of the difference -> band 1.
    fitted = [0.5, 0.2, 0.45, 0.52]
    table = _table(error=fitted, error_model_std=[0.001, 0.01, 0.001, 0.001])
    readings = error_readings(table, budgets=[1e9])
    assert [r.kind for r in readings] == ["measured", "fitted", "law"]
    rows = sensitivity_rows(table, [T_MAX], readings)
    assert rows[0]["pick"] == "D2-A4-H512-I256"  # measured ê unchanged
    assert rows[1]["pick"] == "D4-A8-H1024-I768"
    assert rows[1]["bort_released_rank"] == 1
    assert rows[1]["pick_w"] == pytest.approx(1.8)
    assert rows[1]["tie_band"] == 1


def test_a_law_ranked_table_is_not_read_as_fitted_and_untrained_rows_are_not_measured():
    ranked_by_law, _ = apply_law(_table(), "hoffmann2022", 1e10)
    assert [r.kind for r in error_readings(ranked_by_law, budgets=[1e10])] == ["measured", "law"]
    untrained, _ = apply_law(_table().drop(columns=["error", "error_measured"]))
    assert [r.kind for r in error_readings(untrained, budgets=[1e10])] == ["law"]
    partly = _table(error_measured=[0.5, np.nan, 0.45, 0.52])
    reading = measured_reading(partly)
    assert len(reading.errors) == 3
    assert reading.note == "covers 3 of 4 candidates"
    [row] = sensitivity_rows(partly, [T_MAX], [reading])
    assert row["ranked"] == 3
    assert row["bort_released_rank"] is None


def test_law_reading_ranks_with_the_laws_error():
    table = _table()
    [reading] = law_readings(table, "hoffmann2022", [math.inf])
    n = {s: s[0] * (4 * s[2] ** 2 + 2 * s[2] * s[3] + 9 * s[2] + s[3]) for s in VALUES}
    w = {
        s: (1 - p / 100) * (1 - i / 10) / (1.69 + 406.4 / n[s] ** 0.34)
        for s, (p, i, _) in VALUES.items()
    }
    [row] = sensitivity_rows(table, [T_MAX], [reading])
    best = max(w, key=w.get)
    assert row["pick"] == "D{}-A{}-H{}-I{}".format(*best)
    assert row["pick_w"] == pytest.approx(w[best])
    order = sorted(w, key=w.get, reverse=True)
    assert row["bort_released_rank"] == order.index(RELEASED) + 1
    assert row["reading"] == "hoffmann2022 @ converged"
    assert row["budget_tokens"] == math.inf
    assert row["tie_band"] == 1  # no seed noise in a law, no latency spread here


def test_reference_csv_ranks_only_the_shapes_it_covers(tmp_path):
    path = tmp_path / "reference.csv"
    lines = ["D,A,H,I,seed,steps,width_scale,error,loss,sequence_length,learning_rate"]
    # RELEASED's best θ is lr 1e-3 (mean 0.2); at 3e-4 its mean is 0.9. PAPER is not covered.
    for shape, by_rate in {
        SMALL: {1e-3: (0.5, 0.5)},
        RELEASED: {3e-4: (0.9, 0.9), 1e-3: (0.19, 0.21)},
        OTHER: {1e-3: (0.52, 0.52)},
    }.items():
        for rate, seeds in by_rate.items():
            for seed, value in enumerate(seeds):
                lines.append(f"{','.join(map(str, shape))},{seed},1000,2,{value},mlm,64,{rate}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = _table()
    [reading] = reference_readings(table, path)
    assert reading.name == "reference (mlm)"
    assert len(reading.errors) == 3
    assert reading.errors[Architecture(*RELEASED).id] == pytest.approx(0.2)
    [row] = sensitivity_rows(table, [T_MAX], [reading])
    assert row["ranked"] == 3
    assert row["of"] == 4
    assert "3 of 4" in row["note"]
    assert row["pick"] == "D4-A8-H1024-I768"
    assert row["bort_released_rank"] == 1
    assert row["bort_paper_rank"] is None
    with pytest.raises(DataError, match="not found"):
        reference_readings(table, tmp_path / "missing.csv")


def test_table_has_a_row_per_reading_and_t_and_prints(capsys):
    table = _table()
    frame = sensitivity_table(table, [T_MAX, T_LARGE], budgets=[1e8, 1e10, math.inf])
    # measured, fitted (4 candidates are too few for a fit: left out), 3 budgets -> 4 x 2 T
    assert len(frame) == 8
    assert list(frame["reading"][::2]) == [
        "measured ê",
        "hoffmann2022 @ 1e+08 tokens",
        "hoffmann2022 @ 1e+10 tokens",
        "hoffmann2022 @ converged",
    ]
    print_sensitivity(frame.to_dict("records"))
    out = capsys.readouterr().out
    assert "D2-A4-H512-I256" in out
    assert "4/4" in out


def test_budget_curve_rows_and_plot(tmp_path):
    table = _table()
    budgets = [1e7, 1e9, 1e11, math.inf]
    curve = budget_curve(table, [T_MAX, T_LARGE], "besiroglu2024", budgets)
    assert len(curve) == 8
    assert set(curve["law"]) == {"besiroglu2024"}
    [converged] = sensitivity_rows(table, [T_MAX], law_readings(table, "besiroglu2024", [math.inf]))
    last = curve[(curve["budget_tokens"] == math.inf) & (curve["T"] == converged["T"])].iloc[0]
    assert last["pick"] == converged["pick"]
    assert last["pick_w"] == converged["pick_w"]
    # W falls as the budget shrinks (every ê grows by the same B / D^β).
    w = curve[curve["T"] == converged["T"]]["pick_w"].to_numpy()
    assert np.all(np.diff(w) > 0)
    path = plot_budget_curve(curve, tmp_path / "budget_curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_fitted_reading_has_the_searchs_band_on_a_real_search_table():
    csv = Path(__file__).parents[1] / "benchmarks/results/gpu_search_h200/candidates.csv"
    measured = pd.read_csv(csv).set_index("id", drop=False)[
        ["D", "A", "H", "I", "parameters", "latency_ms", "latency_spread_ms", "error"]
    ]
    searched, _ = apply_error_model(measured, "quadratic")
    t = _t(float(measured["parameters"].max()) * 1.1, float(measured["latency_ms"].max()) * 1.1)
    expected = rank(searched, t)  # as the search ranks: independent noises, the calibrated z
    # The search's own fit, and the same fit made here from the measured ê, give its ranking.
    for table in (searched, measured):
        reading = error_readings(table, budgets=[])[1]
        assert reading.kind == "fitted"
        [row] = sensitivity_rows(table, [t], [reading])
        assert row["pick"] == "D{D}-A{A}-H{H}-I{I}".format(**expected.iloc[0][list("DAHI")])
        assert row["tie_band"] == int(expected["in_tie_band"].sum()) > 1
        assert row["bort_released_rank"] == int(
            expected.loc[Architecture(4, 8, 1024, 768).id, "rank"]
        )
