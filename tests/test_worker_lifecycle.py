"""Local worker processes: they end with their parent, and a journal store refuses several."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bortnas.core.errors import StoreError
from bortnas.extraction.config import SearchConfig
from bortnas.extraction.search import search
from tests.support.formula_proxies import formula_proxies, trained_count


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_workers_exit_when_the_main_process_is_killed(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bortnas.cli", "search", "--space", "tiny", "--steps", "400"]
    command += ["--workers", "2", "--runs-dir", str(tmp_path)]
    main = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and main.poll() is None:
        # The spawn context starts a resource tracker too: the worker is the child running search.
        workers = [
            pid
            for pid in _children(main.pid)
            if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if workers:
            break
        time.sleep(0.2)
    assert workers, "no worker was started"
    time.sleep(2.0)  # the worker is training now
    main.send_signal(signal.SIGKILL)
    main.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphans = [pid for pid in workers if _alive(pid)]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    assert not orphans, "workers kept running after their parent died"


def test_a_journal_store_refuses_several_workers(tmp_path: Path) -> None:
    config = SearchConfig(
        space="tiny", runs_dir=str(tmp_path), storage=f"journal:{tmp_path / 'j.log'}", workers=2
    )
    try:
        search(config)
    except StoreError as exc:
        assert "heartbeat" in str(exc)
    else:
        raise AssertionError("a journal store was accepted with two workers")
    assert not (tmp_path / "j.log").exists()
    single = search(config.replace(workers=1), proxies=formula_proxies())
    assert len(single.table) == trained_count(single.space)


def test_a_space_built_in_memory_trains_in_one_process_and_says_so(tmp_path: Path) -> None:
    import json

    from bortnas.core.theta import Hyperparameters
    from bortnas.search_spaces import parse_space

    space = parse_space(
        {
            "dimensions": {"depth": [1, 2], "heads": [2], "hidden": [32], "intermediate": [64]},
            "context": {"vocab_size": 1024, "max_positions": 130, "type_vocab_size": 1},
        },
        name="in-memory",
        source="<built in a notebook>",
    )
    config = SearchConfig(
        space="tiny", runs_dir=str(tmp_path), steps=3, workers=2, theta=(Hyperparameters(),)
    )
    result = search(config, space=space)
    assert any("not loaded from a file" in note for note in result.notes)
    summary = json.loads(Path(result.outputs["summary"]).read_text())
    assert summary["notes"] == result.notes
