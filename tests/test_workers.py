"""Several worker processes share one study: each candidate evaluated once, a dead worker's
candidate released by Optuna's heartbeat and finished by another, nothing lost or repeated.

Runs on the embedded SQLite store always, and on a real PostgreSQL server when
`BORTNAS_TEST_POSTGRES_URL` names one (`.ci/run` starts one on loopback and sets it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest

from bortnas import load_space
from bortnas.extraction.store import is_work_trial, open_storage
from tests.support.formula_proxies import formula_proxies, trained_count

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 3
POSTGRES_URL = os.environ.get("BORTNAS_TEST_POSTGRES_URL")


def _start_worker(storage: str, runs: Path, log: Path, sleep: float) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "BORTNAS_GRACE_SECONDS": "15"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.worker", storage, str(runs), str(log), str(sleep)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/shared.db"
    if not POSTGRES_URL:
        pytest.skip("BORTNAS_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    # A fresh database per test run: the study name depends on the settings only.
    database = f"bortnas_{uuid.uuid4().hex[:8]}"
    admin = optuna.storages.RDBStorage(POSTGRES_URL).engine
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"


def _completed_counts(storage_url: str) -> Counter:
    storage = open_storage(storage_url)
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    return Counter(
        t.user_attrs["architecture_id"]
        for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        if is_work_trial(t)  # the trials that trained, not the θ records they added
    )


def _trained(space) -> set[str]:
    """Every candidate but T and those of its size (W = 0 for them: never trained)."""
    sizes = {a: formula_proxies()["parameters"].evaluate(a).value for a in space.candidates}
    return {a.id for a in space.candidates if sizes[a] < max(sizes.values())}


@pytest.mark.slow
def test_three_workers_evaluate_each_candidate_exactly_once(
    storage_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "evaluations.log"
    workers = [_start_worker(storage_url, tmp_path / f"runs{i}", log, 0.15) for i in range(WORKERS)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    space = load_space("tiny")
    evaluations = Counter(line.split()[1] for line in log.read_text().splitlines())
    completed = _completed_counts(storage_url)
    assert set(completed) == _trained(space)  # lost = 0
    assert max(completed.values()) == 1  # duplicates = 0
    assert sum(evaluations.values()) == trained_count(space)  # nobody paid twice
    pids = {line.split()[0] for line in log.read_text().splitlines()}
    assert len(pids) >= 2  # the work really was shared
    assert all(f"rows={trained_count(space)}" in out for out, _ in outputs)


@pytest.mark.slow
def test_a_killed_worker_releases_its_candidate(storage_url: str, tmp_path: Path) -> None:
    log = tmp_path / "evaluations.log"
    victim = _start_worker(storage_url, tmp_path / "victim", log, 3.0)
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    held = log.read_text().split()[1]  # the candidate the victim is evaluating right now
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivors = [
        _start_worker(storage_url, tmp_path / f"runs{i}", log, 0.05) for i in range(WORKERS - 1)
    ]
    for worker in survivors:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
    completed = _completed_counts(storage_url)
    space = load_space("tiny")
    assert set(completed) == _trained(space)
    assert max(completed.values()) == 1
    evaluations = Counter(line.split()[1] for line in log.read_text().splitlines())
    assert evaluations[held] == 2  # started by the victim, finished by a survivor
    assert sum(evaluations.values()) == trained_count(space) + 1
