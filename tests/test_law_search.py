"""A training-free search under a scaling law, and the sensitivity table every report carries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bortnas.extraction.config import SearchConfig
from bortnas.extraction.scaling_law import law_error
from bortnas.extraction.search import search
from tests.support.formula_proxies import FormulaError, formula_proxies
from tests.test_error_model import _space_file


def test_a_law_search_trains_nothing_and_ranks_by_the_law(tmp_path: Path) -> None:
    error = FormulaError()
    config = SearchConfig(
        space=str(_space_file(tmp_path)),
        runs_dir=str(tmp_path / "runs"),
        error_model="law",
        budget="2e10",
    )
    result = search(config, proxies=formula_proxies(error))
    assert error.calls == 0
    assert result.cost.training_steps == 0
    table = result.table
    shapes = [tuple(int(v) for v in row) for row in table[["D", "A", "H", "I"]].to_numpy()]
    from bortnas import Architecture

    expected = law_error([Architecture(*s) for s in shapes], 2e10, "hoffmann2022")
    assert np.allclose(table["error"], expected)
    # W by hand: the pick is its argmax.
    p_t, i_t = result.reference.parameters, result.reference.latency_ms
    w = (p_t - table["parameters"]) / p_t * (i_t - table["latency_ms"]) / i_t / table["error"]
    assert result.pick.name == "D{}-A{}-H{}-I{}".format(*shapes[int(np.argmax(w.to_numpy()))])
    summary = json.loads(Path(result.outputs["summary"]).read_text())
    assert summary["error_model"]["model"] == "law"
    assert summary["error_model"]["budget_tokens"] == 2e10


def test_every_report_carries_the_sensitivity_table_and_the_budget_curve(tmp_path: Path) -> None:
    config = SearchConfig(space=str(_space_file(tmp_path)), runs_dir=str(tmp_path / "runs"))
    result = search(config, proxies=formula_proxies())
    summary = json.loads(Path(result.outputs["summary"]).read_text())
    readings = [row["reading"] for row in summary["sensitivity"]]
    assert readings[:2] == ["measured ê", "fitted ê"]
    assert sum("hoffmann2022" in reading for reading in readings) == 3  # 1e8, 1e10, converged
    fitted = next(row for row in summary["sensitivity"] if row["reading"] == "fitted ê")
    assert fitted["pick"] == result.pick.name
    assert Path(result.outputs["budget_curve_png"]).stat().st_size > 10_000
