"""`kill -9` a real `bortnas search` mid-run, start it again: nothing lost, nothing repeated, and
the same result as a run that was never interrupted (real proxies, tiny space, short budget)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

COMMAND = [sys.executable, "-m", "bortnas.cli", "search", "--space", "tiny", "--epsilon", "1"]
COMMAND += ["--steps", "15", "--workers", "1"]
#: Candidates trained: every one but T and its same-size sibling (W = 0 for them: not trained).
TRAINED = 28


def _run(runs: Path, **kwargs) -> subprocess.Popen:
    environment = {**os.environ, "BORTNAS_GRACE_SECONDS": "4"}
    return subprocess.Popen(
        [*COMMAND, "--runs-dir", str(runs)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _completed(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            # Candidates done: completed trials that trained (not the θ records they added).
            row = connection.execute(
                "SELECT count(*) FROM trials t WHERE state = 'COMPLETE' AND NOT EXISTS "
                "(SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id "
                "AND a.key = 'theta_of_trial')"
            )
            return int(row.fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    killed_runs, clean_runs = tmp_path / "killed", tmp_path / "clean"
    database = killed_runs / "tiny" / "study.db"
    victim = _run(killed_runs)
    deadline = time.monotonic() + 300
    while _completed(database) < 8 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.2)
    assert victim.poll() is None, "the search ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finished_before = _completed(database)
    assert 8 <= finished_before < TRAINED

    resumed = _run(killed_runs)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    # The uninterrupted run re-uses the killed run's latency timings (and only those): latency is
    # re-measured per run folder, and two timings of sub-millisecond models differ by more than
    # the W-coefficients of close candidates, so without this the picks could differ by noise.
    (clean_runs / "cache").mkdir(parents=True)
    for timing in (killed_runs / "cache").glob("latency-*.json"):
        shutil.copy(timing, clean_runs / "cache" / timing.name)
    clean = _run(clean_runs)
    clean_out, clean_err = clean.communicate(timeout=600)
    assert clean.returncode == 0, clean_err[-3000:]

    summary = json.loads((killed_runs / "tiny" / "summary.json").read_text())
    clean_summary = json.loads((clean_runs / "tiny" / "summary.json").read_text())
    # Nothing repeated: the resumed run trained only what had not finished before the kill. A kill
    # that lands between a candidate's cached measurement and its trial's commit leaves that one
    # value in the cache: the resumed run records it without training (one worker: at most one).
    computed = summary["cost"]["computed"]["error"]
    recovered = summary["cost"]["cached"].get("error", 0)
    assert computed + recovered == TRAINED - finished_before
    assert recovered <= 1
    assert clean_summary["cost"]["computed"]["error"] == TRAINED
    # Nothing lost, and the same values (the error proxy is deterministic) and winner.
    resumed_table = pd.read_csv(killed_runs / "tiny" / "candidates.csv").set_index("id")
    clean_table = pd.read_csv(clean_runs / "tiny" / "candidates.csv").set_index("id")
    assert len(resumed_table) == len(clean_table) == TRAINED
    assert (
        resumed_table["error"].sort_index().tolist() == clean_table["error"].sort_index().tolist()
    )
    assert summary["pick"] == clean_summary["pick"]
