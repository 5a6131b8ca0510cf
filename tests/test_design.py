"""The designed subset that a search trains first, and the fit-then-verify loop around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bortnas import load_space
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.design import POINTS_PER_TERM, corners, d_optimal_design
from bortnas.extraction.error_model import dimensions_of, quadratic_features
from bortnas.extraction.search import search
from tests.support.formula_proxies import formula_proxies
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


def test_fit_then_verify_picks_what_training_everything_picks(tmp_path: Path) -> None:
    space = str(_space_file(tmp_path))
    design = search(
        SearchConfig(space=space, runs_dir=str(tmp_path / "a")), proxies=formula_proxies()
    )
    everything = search(
        SearchConfig(space=space, runs_dir=str(tmp_path / "b"), train="all"),
        proxies=formula_proxies(),
    )
    assert design.pick == everything.pick
    assert (everything.table["error_source"] == "measured").all()
    trained = design.table[design.table["error_source"] == "measured"]
    assert len(trained) < len(everything.table) == len(design.table)
    band = design.table[design.table["in_tie_band"]]
    assert (band["error_source"] == "measured").all()
