"""Hostile and broken inputs: each ends in exit code 2 with one clear line, nothing stored.

Table-driven through the real CLI entry point (in-process, so the table stays fast; test_cli.py
runs real subprocesses for the exit-code plumbing).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from bortnas import BORT
from bortnas.cli import main
from bortnas.proxies import ParameterProxy, evaluate_cached
from bortnas.proxies.base import MeasurementCache

SPACE = """
[dimensions]
depth = [1]
heads = [2]
hidden = [32]
intermediate = [64]
"""


def _file(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def _teacher_without_weights(tmp_path: Path) -> str:
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BORT.to_bert_config().to_dict()))
    return str(folder)


def _pickle_teacher(tmp_path: Path) -> str:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BORT.to_bert_config().to_dict()))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    return str(folder)


CASES = {
    "malformed TOML": (
        lambda t: ["--space", _file(t, "s.toml", "[dimensions\n")],
        "malformed TOML",
    ),
    "unknown key": (
        lambda t: ["--space", _file(t, "s.toml", SPACE + "layers = [2]\n")],
        "dimensions.layers: unknown key",
    ),
    "negative size": (
        lambda t: ["--space", _file(t, "s.toml", SPACE.replace("[1]", "[-1]"))],
        "dimensions.depth: -1",
    ),
    "zero size": (
        lambda t: ["--space", _file(t, "s.toml", SPACE.replace("heads = [2]", "heads = [0]"))],
        "dimensions.heads: 0",
    ),
    "huge size": (
        lambda t: ["--space", _file(t, "s.toml", SPACE.replace("[32]", "[10000000]"))],
        "dimensions.hidden: 10000000",
    ),
    "space of zero candidates": (
        lambda t: ["--space", _file(t, "s.toml", SPACE.replace("heads = [2]", "heads = [3]"))],
        "leave no candidate",
    ),
    "non-UTF-8 corpus": (
        lambda t: ["--space", "tiny", "--corpus", _file(t, "c.txt", b"\xff\xfe\xfa" * 50)],
        "c.txt",
    ),
    "empty corpus": (lambda t: ["--space", "tiny", "--corpus", _file(t, "e.txt", "")], "e.txt"),
    "missing corpus": (lambda t: ["--space", "tiny", "--corpus", str(t / "nope.txt")], "nope.txt"),
    "teacher folder without weights": (
        lambda t: ["--space", "tiny", "--teacher", _teacher_without_weights(t)],
        "teacher",
    ),
    "pickle-only teacher": (
        lambda t: ["--space", "tiny", "--teacher", _pickle_teacher(t)],
        "pickle",
    ),
    "unreachable store": (
        lambda t: ["--space", "tiny", "--storage", "postgresql://nobody:x@127.0.0.1:9/none"],
        "cannot open study storage",
    ),
    "results folder not writable": (
        lambda t: ["--space", "tiny", "--runs-dir", _file(t, "a-file", "x") + "/runs"],
        "cannot write results here",
    ),
    "run name escaping its folder": (
        lambda t: ["--space", "tiny", "--name", "../escape"],
        "must be a plain folder name",
    ),
    "epsilon out of range": (lambda t: ["--space", "tiny", "--epsilon", "0"], "--epsilon"),
    "unknown optimizer": (lambda t: ["--space", "tiny", "--optimizer", "grid"], "invalid choice"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    arguments, fragment = CASES[case]
    runs = tmp_path / "runs"
    argv = ["search", *arguments(tmp_path)]
    if "--runs-dir" not in argv:
        argv += ["--runs-dir", str(runs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own usage errors
            code = exit_.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert not list(runs.rglob("study.db"))
    assert not list(runs.rglob("*.json"))


def test_corrupted_cache_entry_is_detected_and_recomputed(tmp_path: Path) -> None:
    cache = MeasurementCache(tmp_path)
    proxy = ParameterProxy()
    first = evaluate_cached(proxy, BORT, cache)
    (entry,) = tmp_path.glob("*.json")
    damaged = entry.read_text().replace(str(int(first.value)), "1")  # valid JSON, wrong value
    entry.write_text(damaged)
    with pytest.warns(UserWarning, match="checksum mismatch"):
        again = evaluate_cached(proxy, BORT, cache)
    assert again.value == first.value
    entry.write_bytes(b"\x00garbage")
    with pytest.warns(UserWarning, match="discarding damaged cache entry"):
        assert cache.get(proxy.cache_key(BORT)) is None
    assert evaluate_cached(proxy, BORT, cache).value == first.value
