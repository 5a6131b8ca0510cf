"""The designed subset that a search trains first, and the fit-then-verify loop around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bortnas import Architecture, load_space
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.design import POINTS_PER_TERM, corners, d_optimal_design
from bortnas.extraction.error_model import dimensions_of, quadratic_features
from bortnas.extraction.search import search
from tests.support.formula_proxies import FormulaError, formula_proxies
from tests.test_error_model import _space_file


def test_the_design_is_corners_then_d_optimal_points_four_per_term() -> None:
    space = load_space("bert-large").candidates
    design = d_optimal_design(space)
    terms = np.linalg.matrix_rank(quadratic_features(dimensions_of(space)))
    assert terms == 15
    assert len(design) == POINTS_PER_TERM * terms == 60
    assert len(set(design)) == len(design)
    assert set(corners(space)) <= set(design)
    assert len(corners(space)) == 16  # D 2|12, A 4|16, H 512|1024, I 256|3072: all valid
    # A rule of the architecture alone: the same design whatever the order of the space.
    assert set(d_optimal_design(list(reversed(space)))) == set(design)
    # The design identifies the model: its information matrix is well conditioned.
    x = quadratic_features(dimensions_of(design), dimensions_of(space))
    assert np.linalg.matrix_rank(x) == terms


def test_a_small_space_is_trained_whole() -> None:
    space = load_space("tiny").candidates
    assert set(d_optimal_design(space)) == set(space)


def test_fit_then_verify_picks_what_training_everything_would(tmp_path: Path) -> None:
    error = FormulaError()
    result = search(
        SearchConfig(space=str(_space_file(tmp_path)), runs_dir=str(tmp_path / "a")),
        proxies=formula_proxies(error),
    )
    table = result.table
    trained = table[table["error_source"] == "measured"]
    assert error.calls == len(trained) < len(table)  # the predicted ones were never trained
    # Training everything would measure the formula's error on every candidate: W by hand.
    proxies = formula_proxies()
    p_t, i_t = result.reference.parameters, result.reference.latency_ms
    best, best_w = None, -1.0
    for identifier, row in table.iterrows():
        a = Architecture.from_dict(row["architecture"])
        e = proxies["error"].evaluate(a).value
        w = (p_t - row["parameters"]) / p_t * (i_t - row["latency_ms"]) / i_t / e
        if w > best_w:
            best, best_w = identifier, w
    assert table.loc[best, "in_tie_band"]  # the true argmax is inside the band...
    assert table.loc[best, "error_source"] == "measured"  # ...and was verified by training
    assert (table[table["in_tie_band"]]["error_source"] == "measured").all()
