"""The CLI as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def bortnas(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bortnas.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_params_prints_bort_counts_as_plain_integers() -> None:
    result = bortnas("params", "4", "8", "1024", "768")
    assert result.returncode == 0, result.stderr
    assert "76158976" in result.stdout
    assert "24158208" in result.stdout


def test_spaces_and_space_show() -> None:
    listing = bortnas("spaces")
    assert listing.returncode == 0
    assert "bert-large" in listing.stdout
    assert "300" in listing.stdout
    shown = bortnas("space", "show", "bert-large")
    assert shown.returncode == 0
    assert "candidates: 300" in shown.stdout


def test_export_writes_a_loadable_config(tmp_path: Path) -> None:
    result = bortnas("export", "4", "8", "1024", "768", "-o", str(tmp_path / "bort"))
    assert result.returncode == 0, result.stderr
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(tmp_path / "bort").intermediate_size == 768


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["space", "show", "bert-huge"], "unknown space 'bert-huge'"),
        (["params", "4", "3", "1024", "768"], "not divisible"),
        (["params", "4", "8", "1024"], "the following arguments are required: I"),
        (["params", "0", "8", "1024", "768"], "must be positive"),
        (["params", "four", "8", "1024", "768"], "invalid int value"),
        (["space", "show", "/nonexistent/space.toml"], "no such space file"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    result = bortnas(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [[], ["spaces"], ["space", "show"], ["params"], ["export"]])
def test_every_command_help_shows_an_example(command: list[str]) -> None:
    result = bortnas(*command, "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout
