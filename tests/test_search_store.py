"""The search's mechanics — W argmax, Θ trials, store, resume, retries, baselines — with cheap
deterministic proxies. The real proxies have their own tests; here latency and error are
closed-form stand-ins so that the store's guarantees can be checked exactly and fast.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bortnas import load_space
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.pareto import non_dominated_mask
from bortnas.extraction.search import search
from bortnas.extraction.store import completed_trials, open_storage, open_study, theta_trials
from bortnas.extraction.wcoefficient import w_coefficients
from bortnas.proxies import Measurement
from tests.support.formula_proxies import (
    FormulaError,
    FormulaLatency,
    formula_proxies,
    trained_count,
)

_proxies = formula_proxies


def _config(tmp_path: Path, **changes) -> SearchConfig:
    return SearchConfig(space="tiny", runs_dir=str(tmp_path), **changes)


def test_pick_is_the_w_argmax_relative_to_the_untrained_maximum_point(tmp_path: Path) -> None:
    result = search(_config(tmp_path), proxies=_proxies())
    space = load_space("tiny")
    proxies = _proxies()
    values = {a: [p.evaluate(a).value for p in proxies.values()] for a in space.candidates}
    reference = max(space.candidates, key=lambda a: (values[a][0], a.heads, a.shape))
    assert result.reference.architecture == reference
    assert reference.id not in result.table.index  # W(T) = 0: T is never trained
    # Nor any candidate of T's size (W = 0 whatever its error); the run lists them.
    trained = [a for a in space.candidates if values[a][0] < values[reference][0]]
    assert sorted(result.untrained) == sorted(
        a.name for a in space.candidates if values[a][0] >= values[reference][0]
    )
    objectives = np.array([values[a] for a in trained])
    w = w_coefficients(
        objectives[:, 0],
        objectives[:, 1],
        objectives[:, 2],
        reference_parameters=values[reference][0],
        reference_latency=values[reference][1],
    )
    assert result.pick == trained[int(np.argmax(w))]
    expected_front = {
        a.id for a, on in zip(trained, non_dominated_mask(objectives), strict=True) if on
    }
    assert set(result.front["id"]) == expected_front
    assert result.cost.training_steps == 14 * len(trained) == result.study_training_steps
    for name in ("candidates_csv", "pareto_png", "w_ranking_png", "pick_config", "summary"):
        assert Path(result.outputs[name]).is_file()


def test_pictures_are_drawn_again_only_when_what_they_show_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bortnas.extraction import plots

    result = search(_config(tmp_path), proxies=_proxies())
    drawn: list[str] = []
    monkeypatch.setattr(plots, "_draw", lambda r, paths: drawn.append(r.pick.id))
    plots.plot_outputs(result)
    assert drawn == []  # the same table, pick and config: the pictures stand
    changed = dataclasses.replace(result, table=result.table.assign(w=result.table["w"] * 0.5))
    plots.plot_outputs(changed)
    assert drawn == [result.pick.id]
    Path(result.outputs["pareto_png"]).unlink()
    plots.plot_outputs(changed)
    assert len(drawn) == 2  # a missing picture is drawn again


def test_candidates_csv_lets_anyone_recompute_w_and_the_pick(tmp_path: Path) -> None:
    result = search(_config(tmp_path), proxies=_proxies())
    table = pd.read_csv(result.outputs["candidates_csv"])
    summary = json.loads(Path(result.outputs["summary"]).read_text())
    p_t, i_t = summary["reference"]["parameters"], summary["reference"]["latency_ms"]
    w = ((p_t - table["parameters"]) / p_t) * ((i_t - table["latency_ms"]) / i_t) / table["error"]
    assert np.allclose(w, table["w"])
    best = table.loc[w.idxmax()]
    pick = json.loads((result.run_dir / "pick" / "config.json").read_text())
    assert (best["D"], best["H"]) == (pick["num_hidden_layers"], pick["hidden_size"])
    assert summary["tie_band"][0] == result.pick.id
    assert {"theta_learning_rate", "size_factor", "speed_factor", "in_tie_band"} <= set(table)


def test_study_holds_one_trial_per_candidate_and_theta(tmp_path: Path) -> None:
    result = search(_config(tmp_path), proxies=_proxies())
    study = open_study(open_storage(result.storage), result.study_name, None)
    pairs = [
        (t.user_attrs["architecture_id"], t.user_attrs["theta_index"]) for t in theta_trials(study)
    ]
    assert len(pairs) == len(set(pairs)) == 2 * len(result.table)
    assert len(completed_trials(study)) == len(result.table)
    assert study.metric_names == ["parameters", "latency_ms", "error"]  # named in dashboards
    assert all("theta" in t.user_attrs for t in theta_trials(study))
    # The candidate's trial stands for its best θ: deep candidates won with θ 0, D = 1 with θ 1.
    for trial in completed_trials(study):
        depth = trial.user_attrs["architecture"]["depth"]
        assert trial.user_attrs["theta_index"] == (1 if depth == 1 else 0)
    winners = result.table.set_index("D")["theta_learning_rate"]
    assert set(winners.loc[1]) == {3e-3}
    assert 3e-3 not in set(winners.drop(index=1))


def test_rerun_reuses_every_stored_value(tmp_path: Path) -> None:
    first = search(_config(tmp_path), proxies=_proxies())
    error = FormulaError()
    second = search(_config(tmp_path), proxies=_proxies(error))
    assert error.calls == 0
    assert second.cost.training_steps == 0
    assert second.study_training_steps == first.study_training_steps
    assert second.pick == first.pick
    assert second.table["error"].tolist() == first.table["error"].tolist()


def test_interrupted_search_resumes_without_repeating(tmp_path: Path) -> None:
    interrupted = FormulaError(interrupt_after=11)
    with pytest.raises(KeyboardInterrupt):
        search(_config(tmp_path), proxies=_proxies(interrupted))
    assert interrupted.calls == 11
    resumed_error = FormulaError()
    resumed = search(_config(tmp_path), proxies=_proxies(resumed_error))
    trained = trained_count(load_space("tiny"))
    assert interrupted.calls + resumed_error.calls == trained
    clean = search(_config(tmp_path / "clean"), proxies=_proxies())
    assert resumed.pick == clean.pick
    assert len(resumed.table) == trained
    study = open_study(open_storage(resumed.storage), resumed.study_name, None)
    assert len(theta_trials(study)) == 2 * trained


def test_epsilon_trains_one_candidate_per_interval(tmp_path: Path) -> None:
    trained = trained_count(load_space("tiny"))
    for epsilon in (1, 2, 4):
        error = FormulaError()
        result = search(_config(tmp_path / str(epsilon), epsilon=epsilon), proxies=_proxies(error))
        assert error.calls == len(result.table) == -(-trained // epsilon)


def test_a_reference_outside_the_space_is_used_but_not_trained(tmp_path: Path) -> None:
    error = FormulaError()
    result = search(_config(tmp_path, reference=(8, 4, 256, 512)), proxies=_proxies(error))
    assert result.reference.architecture.shape == (8, 4, 256, 512)
    assert error.calls == load_space("tiny").size  # every candidate, none of them T
    assert (result.table["w"] > 0).all()


def test_failing_candidate_is_retried_then_recorded_with_its_reason(tmp_path: Path) -> None:
    space = load_space("tiny")
    broken = space.candidates[3]
    error = FormulaError(fail_on=broken.shape)
    with pytest.warns(UserWarning, match="simulated training divergence"):
        result = search(_config(tmp_path), proxies=_proxies(error))
    assert len(result.table) == trained_count(space) - 1  # the broken one failed
    assert "simulated training divergence" in result.failed[broken.id]
    assert error.calls == trained_count(space) - 1 + 3  # one try and two retries


@pytest.mark.parametrize("optimizer", ["random", "nsga2", "exhaustive"])
def test_baselines_run_over_the_same_proxies(tmp_path: Path, optimizer: str) -> None:
    result = search(_config(tmp_path, optimizer=optimizer, trials=8), proxies=_proxies())
    assert result.reference.architecture.id not in result.table.index
    if optimizer == "exhaustive":
        assert result.steps_per_candidate == 1000
        assert len(result.table) == trained_count(load_space("tiny"))
    else:
        assert len(result.table) <= 8
    assert result.pick.id == result.table.index[0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"storage": "sqlite:////no/such/folder/study.db"}, "does not exist"),
        ({"storage": "not a url"}, "cannot open study storage"),
        ({"runs_dir": "/proc/version/runs"}, "cannot write results here"),
    ],
)
def test_cheap_checks_fail_before_the_expensive_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict, message: str
) -> None:
    import bortnas.extraction.search as search_module
    from bortnas.core.errors import StoreError

    def expensive(*args, **kwargs):
        raise AssertionError("the proxies were built before the cheap checks")

    monkeypatch.setattr(search_module, "build_proxies", expensive)
    config = _config(tmp_path).replace(**changes)
    with pytest.raises(StoreError, match=message):
        search(config)


def test_a_trial_whose_worker_died_before_starting_it_is_failed_and_retried(
    tmp_path: Path,
) -> None:
    """A worker killed between taking a trial and its first heartbeat leaves a RUNNING trial
    that Optuna's stale check never fails; the search must not wait on it forever."""
    from optuna.trial import TrialState

    from bortnas.extraction.evaluation import Evaluator
    from bortnas.extraction.store import enqueue_candidates
    from bortnas.extraction.trials import evaluate_enqueued, fail_never_started
    from bortnas.proxies.base import MeasurementCache

    space = load_space("tiny")
    candidates = space.candidates[:3]
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = open_study(storage, "orphan", None)
    enqueue_candidates(study, candidates)
    orphan = study.ask()  # taken, never started: no heartbeat, no architecture recorded
    assert fail_never_started(study, grace_seconds=3600) == 0  # too young to judge
    assert fail_never_started(study, grace_seconds=0) == 1
    assert study.get_trials()[orphan.number].state == TrialState.FAIL
    evaluator = Evaluator(_proxies(), MeasurementCache(tmp_path / "cache"))
    evaluate_enqueued(study, space, evaluator, candidates, wait_seconds=0.1)
    done = {t.user_attrs["architecture_id"] for t in completed_trials(study)}
    assert done == {c.id for c in candidates}


def test_opening_a_store_while_another_process_creates_its_tables_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers started together race to create the schema; PostgreSQL reports the loser's
    CREATE TABLE as DuplicateTable (SQLAlchemy's ProgrammingError), which must be retried."""
    import sqlalchemy

    import bortnas.extraction.store as store

    real = store.RDBStorage
    calls = {"n": 0}

    def racing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlalchemy.exc.ProgrammingError(
                "CREATE TABLE studies", {}, Exception('relation "studies" already exists')
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "RDBStorage", racing)
    monkeypatch.setattr(store.time, "sleep", lambda seconds: None)
    storage = store.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert calls["n"] == 2
    assert storage is not None


def test_a_store_opened_while_another_worker_writes_to_it_waits_for_the_lock(
    tmp_path: Path,
) -> None:
    """Workers started together: while one is inside a write transaction on a file not yet in
    WAL mode, SQLite refuses another's switch to WAL at once ("database is locked", no busy
    wait). Opening the store must wait for the writer, not fail (a flaky CI run showed it)."""
    import sqlite3
    import threading

    import optuna

    path = tmp_path / "study.db"
    optuna.storages.RDBStorage(f"sqlite:///{path}")  # the tables, in the rollback-journal mode
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE studies SET study_name = study_name")
    committed: list[str] = []

    def commit_later() -> None:
        time.sleep(0.5)
        writer.execute("COMMIT")
        committed.append("yes")

    thread = threading.Thread(target=commit_later)
    thread.start()
    try:
        storage = open_storage(f"sqlite:///{path}")
        study = open_study(storage, "after-the-writer", optuna.samplers.RandomSampler())
    finally:
        thread.join()
    assert committed == ["yes"]
    assert study.study_name == "after-the-writer"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_diverged_theta_is_skipped_not_the_candidate(tmp_path: Path) -> None:
    class OneThetaDiverges(FormulaError):
        def evaluate(self, a):
            measurement = super().evaluate(a)
            per_theta = [dict(t) for t in measurement.details["per_theta"]]
            per_theta[1]["value"] = float("nan")  # lr 3e-3 diverged
            details = {**measurement.details, "per_theta": per_theta, "theta_best": 0}
            return type(measurement)(
                measurement.proxy, per_theta[0]["value"], measurement.unit, details=details
            )

    result = search(_config(tmp_path), proxies=_proxies(OneThetaDiverges()))
    assert len(result.table) == trained_count(load_space("tiny"))
    assert not result.failed
    study = open_study(open_storage(result.storage), result.study_name, None)
    assert len(theta_trials(study)) == len(result.table)  # the diverged θ is not a trial


def test_every_theta_diverging_fails_the_measurement(tmp_path: Path) -> None:
    import math

    from bortnas.core.architecture import Architecture
    from bortnas.core.theta import Hyperparameters
    from bortnas.proxies.error import DistillationErrorProxy

    proxy = DistillationErrorProxy(
        steps=0, theta=(Hyperparameters(),), corpus=_corpus(tmp_path), width_scale=1,
        vocab_size=300, eval_size=8,
    )  # fmt: skip
    proxy.trainer = lambda: type("T", (), {"train": lambda *a: [[math.nan]]})()
    with pytest.raises(FloatingPointError, match="non-finite"):
        proxy.evaluate(Architecture(1, 2, 32, 64))


def _corpus(tmp_path: Path) -> Path:
    from tests.test_error_proxy import _sentences

    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(_sentences(200)) + "\n", encoding="utf-8")
    return path


class _JitteryLatency(FormulaLatency):
    """The formula's latency times up to ±20 % of noise: T's same-size siblings swap order."""

    def __init__(self, seed: int) -> None:
        self.random = np.random.default_rng(seed)

    def evaluate(self, a):  # type: ignore[no-untyped-def]
        value = super().evaluate(a).value * self.random.uniform(0.8, 1.2)
        return Measurement(self.name, value, "ms")


def test_a_remeasure_keeps_t_and_the_trained_set_and_trains_nothing_new(tmp_path: Path) -> None:
    first = search(_config(tmp_path), proxies={**_proxies(), "latency": _JitteryLatency(1)})
    again = search(
        _config(tmp_path, remeasure=True), proxies={**_proxies(), "latency": _JitteryLatency(2)}
    )
    assert again.latency_epoch == first.latency_epoch + 1  # the latency really was re-timed
    assert again.reference.architecture == first.reference.architecture
    assert again.reference.architecture.heads == 4  # the most heads of T's same-size siblings
    assert set(again.table.index) == set(first.table.index)
    assert again.cost.training_steps == 0
