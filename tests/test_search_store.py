"""The search's mechanics — store, resume, retries, baselines — with cheap deterministic proxies.

The real proxies are exercised end to end in test_search_end_to_end.py; here the latency and error
are closed-form stand-ins so that the store's guarantees can be checked exactly and fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bortnas import load_space
from bortnas.pareto import non_dominated_mask
from bortnas.search import search
from bortnas.wcoefficient import w_coefficients
from tests.support.formula_proxies import FormulaError, formula_proxies

_proxies = formula_proxies


def test_fptas_pick_is_the_w_argmin_and_front_is_non_dominated(tmp_path: Path) -> None:
    result = search("tiny", proxies=_proxies(), runs_dir=tmp_path, base_steps=7)
    space = load_space("tiny")
    assert len(result.table) == space.size
    objectives = np.array(
        [[p.evaluate(a).value for p in _proxies().values()] for a in space.candidates]
    )
    reference = objectives[space.candidates.index(result.reference)]
    w = w_coefficients(objectives, reference)
    assert result.pick == space.candidates[int(np.argmin(w))]
    expected_front = {
        a.id for a, on in zip(space.candidates, non_dominated_mask(objectives), strict=True) if on
    }
    assert set(result.front["id"]) == expected_front
    assert result.table.loc[result.reference.id, "w"] == pytest.approx(1.0)
    assert result.cost.training_steps == 7 * space.size == result.study_training_steps
    for name in ("candidates_csv", "pareto_png", "w_ranking_png", "pick_config", "summary"):
        assert Path(result.outputs[name]).is_file()


def test_rerun_reuses_every_stored_value(tmp_path: Path) -> None:
    first = search("tiny", proxies=_proxies(), runs_dir=tmp_path, base_steps=7)
    error = FormulaError()
    second = search("tiny", proxies=_proxies(error), runs_dir=tmp_path, base_steps=7)
    assert error.calls == 0 and second.cost.training_steps == 0
    assert second.study_training_steps == first.study_training_steps  # what the study paid
    assert second.pick == first.pick
    assert second.table["error"].tolist() == first.table["error"].tolist()


def test_interrupted_search_resumes_without_repeating(tmp_path: Path) -> None:
    interrupted = FormulaError(interrupt_after=11)
    with pytest.raises(KeyboardInterrupt):
        search("tiny", proxies=_proxies(interrupted), runs_dir=tmp_path, base_steps=7)
    assert interrupted.calls == 11
    resumed_error = FormulaError()
    resumed = search("tiny", proxies=_proxies(resumed_error), runs_dir=tmp_path, base_steps=7)
    size = load_space("tiny").size
    assert interrupted.calls + resumed_error.calls == size
    reference = search("tiny", proxies=_proxies(), runs_dir=tmp_path / "clean", base_steps=7)
    assert resumed.pick == reference.pick and len(resumed.table) == size


def test_failing_candidate_is_retried_then_recorded_with_its_reason(tmp_path: Path) -> None:
    space = load_space("tiny")
    broken = space.candidates[3]
    error = FormulaError(fail_on=broken.shape)
    with pytest.warns(UserWarning, match="simulated training divergence"):
        result = search("tiny", proxies=_proxies(error), runs_dir=tmp_path, base_steps=7)
    assert len(result.table) == space.size - 1
    assert "simulated training divergence" in result.failed[broken.id]
    assert error.calls == space.size - 1 + 3  # one try and two retries


@pytest.mark.parametrize("optimizer", ["random", "nsga2", "exhaustive"])
def test_baselines_run_over_the_same_proxies(tmp_path: Path, optimizer: str) -> None:
    result = search(
        "tiny", optimizer=optimizer, trials=8, proxies=_proxies(), runs_dir=tmp_path, base_steps=7
    )
    assert result.reference.id in result.table.index
    if optimizer == "exhaustive":
        assert result.steps_per_candidate == 140 and len(result.table) == load_space("tiny").size
    else:
        assert len(result.table) <= 9
    assert result.pick.id == result.table.index[0]
