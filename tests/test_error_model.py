"""The error model: a least-squares fit of log ê over the space that W then uses.

Checked on synthetic errors whose noise-free value is known (the fit must come closer to it than
the noisy measurement, and its standard errors must cover it), on its edge cases, and in a search.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bortnas import load_space
from bortnas.core.errors import BortnasError
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.error_model import (
    apply_error_model,
    fit_quadratic,
    quadratic_features,
)
from bortnas.extraction.export import load_architecture
from bortnas.extraction.ranking import ReferencePoint, rank
from bortnas.extraction.search import search
from tests.support.formula_proxies import formula_proxies


def _bert_large_dimensions() -> np.ndarray:
    return np.array([a.shape for a in load_space("bert-large").candidates], dtype=float)


def _smooth_truth(dimensions: np.ndarray) -> np.ndarray:
    """A noise-free error with the shape the proxy shows: rising with depth, flat in width."""
    depth, heads, hidden, intermediate = dimensions.T
    return (
        0.45
        + 0.015 * depth
        + 0.004 * np.log2(heads)
        - 0.01 * np.log2(hidden / 512)
        + 0.002 * (np.log2(intermediate / 256))
    )


def test_the_fit_comes_closer_to_the_noise_free_error_than_one_noisy_measurement() -> None:
    dimensions = _bert_large_dimensions()
    truth = _smooth_truth(dimensions)
    noisy = truth * np.exp(np.random.default_rng(0).normal(0.0, 0.04, len(truth)))
    fit = fit_quadratic(dimensions, noisy)
    assert fit is not None
    assert fit.terms == 15
    measured_error = np.sqrt(np.mean(np.log(noisy / truth) ** 2))
    fitted_error = np.sqrt(np.mean(np.log(fit.fitted / truth) ** 2))
    assert fitted_error < 0.4 * measured_error
    assert abs(fit.residual_sd_log - 0.04) < 0.008  # the noise it was given
    covered = np.abs(fit.fitted - truth) <= 2.5 * fit.standard_error
    assert covered.mean() > 0.85  # the standard errors say how far the fit may be off


def test_an_exactly_quadratic_error_is_reproduced() -> None:
    dimensions = _bert_large_dimensions()
    log_error = quadratic_features(dimensions) @ np.linspace(-0.1, 0.1, 15) - 0.7
    fit = fit_quadratic(dimensions, np.exp(log_error))
    assert fit is not None
    assert np.allclose(fit.fitted, np.exp(log_error), rtol=1e-9)
    assert fit.r_squared == pytest.approx(1.0)


def test_a_dimension_that_does_not_vary_is_left_out_of_the_features() -> None:
    dimensions = _bert_large_dimensions()
    dimensions = dimensions[(dimensions[:, 1] == 12) & (dimensions[:, 2] == 768)]  # A, H fixed
    features = quadratic_features(dimensions)  # log2(12) and log2(768) are not exact in floats
    assert np.all(np.isfinite(features))
    assert features.shape[1] == 6  # 1 + 2 linear + 3 squares and products of D and I
    fit = fit_quadratic(dimensions, _smooth_truth(dimensions))
    assert fit is not None
    assert np.all(np.isfinite(fit.fitted))


def test_identical_errors_fit_exactly_with_r_squared_one() -> None:
    dimensions = _bert_large_dimensions()[:60]
    fit = fit_quadratic(dimensions, np.full(len(dimensions), 0.5))
    assert fit is not None
    assert np.allclose(fit.fitted, 0.5)
    assert fit.r_squared == 1.0


def test_an_error_that_is_not_finite_and_positive_keeps_the_measured_errors() -> None:
    dimensions = _bert_large_dimensions()
    table = pd.DataFrame(dimensions, columns=["D", "A", "H", "I"])
    table["error"] = _smooth_truth(dimensions)
    table.loc[5, "error"] = np.inf  # a user's proxy: W copes (W = 0), a log-fit cannot
    modelled, summary = apply_error_model(table, "quadratic")
    assert summary["model"] == "none"
    assert "not finite and positive" in summary["skipped"]
    assert modelled["error"].equals(table["error"])


def test_too_few_candidates_keep_the_measured_error_and_say_why() -> None:
    dimensions = _bert_large_dimensions()[::10][:20]
    table = pd.DataFrame(dimensions, columns=["D", "A", "H", "I"])
    table["error"] = _smooth_truth(dimensions)
    assert fit_quadratic(dimensions, table["error"].to_numpy()) is None
    modelled, summary = apply_error_model(table, "quadratic")
    assert summary["model"] == "none"
    assert "too few" in summary["skipped"]
    assert modelled["error"].tolist() == table["error"].tolist()
    assert "error_model_std" not in modelled


def test_bad_errors_and_unknown_models_are_refused() -> None:
    dimensions = _bert_large_dimensions()
    errors = _smooth_truth(dimensions)
    errors[3] = 0.0
    with pytest.raises(BortnasError, match="positive"):
        fit_quadratic(dimensions, errors)
    table = pd.DataFrame(dimensions, columns=["D", "A", "H", "I"]).assign(error=0.5)
    with pytest.raises(BortnasError, match="unknown error model"):
        apply_error_model(table, "cubic")
    with pytest.raises(BortnasError, match="--error-model"):
        SearchConfig(error_model="cubic")


def test_ranking_uses_the_modelled_error_and_its_standard_error() -> None:
    dimensions = _bert_large_dimensions()
    truth = _smooth_truth(dimensions)
    table = pd.DataFrame(dimensions.astype(int), columns=["D", "A", "H", "I"])
    table["error"] = truth * np.exp(np.random.default_rng(1).normal(0.0, 0.04, len(truth)))
    table["error_seed_std"] = np.nan
    table["parameters"] = table["D"] * table["H"] * (4 * table["H"] + 2 * table["I"])
    table["latency_ms"] = 1.0 + table["parameters"] / 1e6
    table["latency_spread_ms"] = 0.0
    modelled, summary = apply_error_model(table, "quadratic")
    assert summary["model"] == "quadratic"
    assert summary["candidates"] == len(table)
    assert modelled["error_measured"].tolist() == table["error"].tolist()
    assert not np.allclose(modelled["error"], table["error"])  # W gets the fit, not the noise
    reference = ReferencePoint(None, 2.0 * table["parameters"].max(), 100.0, "test")
    ranked = rank(modelled, reference)
    # W written out by hand (Definition 8 as restated), not with the function rank() uses.
    p_t, i_t = reference.parameters, reference.latency_ms
    rows = zip(modelled["parameters"], modelled["latency_ms"], modelled["error"], strict=True)
    # A candidate slower than T saves nothing: its speed factor is clipped at 0 (docs/algorithm.md).
    by_hand = [max(p_t - p, 0) / p_t * max(i_t - i, 0) / i_t / e for p, i, e in rows]
    assert ranked["w"].iloc[0] == pytest.approx(max(by_hand))
    assert sorted(ranked["w"], reverse=True) == pytest.approx(sorted(by_hand, reverse=True))
    assert set(ranked["error_noise_source"]) == {"error model"}
    assert np.allclose(ranked["error_noise"], ranked["error_model_std"])


def _space_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(
        'description = "enough small candidates for the error model"\n'
        "[dimensions]\ndepth = [1, 2, 3, 4]\nheads = [2, 4]\nhidden = [32, 64, 128]\n"
        "intermediate = [64, 128, 256]\n"
        "[context]\nvocab_size = 1024\nmax_positions = 130\ntype_vocab_size = 1\n"
        "[constraints]\nmin_head_size = 16\n",
        encoding="utf-8",
    )
    return path


def test_a_search_ranks_by_the_modelled_error_and_keeps_the_measured_one(tmp_path: Path) -> None:
    config = SearchConfig(space=str(_space_file(tmp_path)), runs_dir=str(tmp_path / "runs"))
    result = search(config, proxies=formula_proxies())
    table = pd.read_csv(result.outputs["candidates_csv"])
    summary = json.loads(Path(result.outputs["summary"]).read_text())
    assert summary["error_model"]["model"] == "quadratic"
    trained = table[table["error_source"] == "measured"]
    predicted = table[table["error_source"] == "predicted"]
    assert summary["error_model"]["candidates"] == len(trained) >= 42
    assert summary["error_model"]["predicted"] == len(predicted)
    assert len(trained) + len(predicted) == len(table) == 58  # every candidate but T's size
    assert predicted["error_measured"].isna().all()
    assert not predicted["in_tie_band"].any()  # the verification trained every band member
    # The measured column is the proxy's own value; the modelled one is close to it (the formula
    # is smooth) but not equal; W and the pick follow the modelled one.
    assert not np.allclose(trained["error"], trained["error_measured"])
    assert np.allclose(trained["error"], trained["error_measured"], rtol=0.05)
    p_t, i_t = summary["reference"]["parameters"], summary["reference"]["latency_ms"]
    w = ((p_t - table["parameters"]) / p_t) * ((i_t - table["latency_ms"]) / i_t) / table["error"]
    assert np.allclose(w, table["w"])
    assert int(w.idxmax()) == 0
    _, metadata = load_architecture(result.run_dir / "pick")
    assert metadata["proxies"]["error_model"] == "quadratic"


def test_error_model_none_ranks_by_the_measured_error(tmp_path: Path) -> None:
    config = SearchConfig(
        space=str(_space_file(tmp_path)), runs_dir=str(tmp_path / "runs"), error_model="none"
    )
    result = search(config, proxies=formula_proxies())
    assert result.error_model == {"model": "none"}
    assert not result.notes
    assert result.table["error"].tolist() == result.table["error_measured"].tolist()
    assert set(result.table["error_noise_source"]) == {"assumed"}


def test_a_search_on_a_space_too_small_for_the_model_says_so(tmp_path: Path) -> None:
    result = search(SearchConfig(space="tiny", runs_dir=str(tmp_path)), proxies=formula_proxies())
    assert result.error_model["model"] == "none"
    assert any("error model 'quadratic' skipped" in note for note in result.notes)
    assert result.table["error"].tolist() == result.table["error_measured"].tolist()
