"""One study shared across "machines": processes with their own caches and paths, one store.

Real proxies (tiny space, short budget), real provenance: each process has its own
BORTNAS_CACHE, runs folder and corpus path (the same text), as two machines would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_error_proxy import _sentences


def _search(
    tmp_path: Path, machine: str, storage: str, *extra: str
) -> tuple[str, dict, pd.DataFrame]:
    home = tmp_path / machine
    corpus = home / "data" / "corpus.txt"  # a different path on each machine, the same text
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text("\n".join(_sentences(600)) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "bortnas.cli", "search", "--space", "tiny", "--steps", "5"]
    command += ["--epsilon", "4", "--corpus", str(corpus), "--workers", "1"]
    command += ["--runs-dir", str(home / "runs"), "--storage", storage, *extra]
    environment = {**os.environ, "BORTNAS_CACHE": str(home / "cache")}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((home / "runs" / "tiny" / "summary.json").read_text())
    table = pd.read_csv(home / "runs" / "tiny" / "candidates.csv").set_index("id").sort_index()
    return done.stdout, summary, table


@pytest.mark.slow
def test_machines_with_their_own_caches_share_one_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first_out, first, first_table = _search(tmp_path, "one", storage)
    second_out, second, second_table = _search(tmp_path, "two", storage)
    assert "new study" in first_out
    # ε = 4 over the 28 candidates that can score (T's size excluded): 7 representatives.
    assert f"joined study {first['study']['name']} (7 done)" in second_out
    assert second["study"]["name"] == first["study"]["name"]
    assert first["cost"]["computed"].get("error") == 7
    assert second["cost"]["computed"].get("error", 0) == 0  # nothing trained twice
    # One latency table for the study: the second machine read the first one's timings.
    assert second["latency_epoch"] == first["latency_epoch"] == 1
    assert second_table["latency_ms"].tolist() == first_table["latency_ms"].tolist()
    assert second_table["error"].tolist() == first_table["error"].tolist()


@pytest.mark.slow
def test_remeasure_starts_a_new_latency_epoch(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    _, first, first_table = _search(tmp_path, "one", storage)
    out, again, table = _search(tmp_path, "one", storage, "--remeasure")
    assert again["latency_epoch"] == first["latency_epoch"] + 1 == 2
    assert "latency epoch 2" in out
    # The errors are kept; only candidates that the new timings made ε-representatives train.
    common = table.index.intersection(first_table.index)
    assert table.loc[common, "error"].tolist() == first_table.loc[common, "error"].tolist()
    new = len(table.index.difference(first_table.index))
    assert again["cost"]["computed"].get("error", 0) == new
