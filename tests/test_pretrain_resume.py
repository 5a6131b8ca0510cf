"""`kill -9` a real `bortnas pretrain` after a checkpoint, run the same command again: the loss
curve and the final weights equal those of a run that was never interrupted (dropout on, so the
RNG states must come back too)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bortnas.pretraining import PretrainConfig, pretrain

from .test_pretrain import genesis

STEPS = 40
SETTINGS = dict(arch="2 2 32 64", steps=STEPS, batch_size=8, sequence_length=32, vocab_size=600)
SETTINGS |= dict(device="cpu", threads=1, learning_rate=1e-3, checkpoint_every=10, dropout=0.1)


def _command(config: PretrainConfig) -> list[str]:
    args = [sys.executable, "-m", "bortnas", "pretrain"]
    for name, value in config.to_dict().items():
        if value is not None and value is not False:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except OSError:
        return 0


def _in_process(config: PretrainConfig, out: Path) -> None:
    """The same run in this process, into `out` (torch's thread count restored after)."""
    threads = torch.get_num_threads()
    try:
        pretrain(PretrainConfig(**{**config.to_dict(), "out": str(out)}))
    finally:
        torch.set_num_threads(threads)


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes_step_for_step(tmp_path: Path) -> None:
    corpus = genesis(tmp_path)
    killed = PretrainConfig(**SETTINGS, corpus=str(corpus), out=str(tmp_path / "killed"))
    victim = subprocess.Popen(_command(killed), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint, metrics = tmp_path / "killed" / "checkpoint", tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while victim.poll() is None and time.monotonic() < deadline:
        if checkpoint.is_dir() and _lines(metrics) >= 13:  # past the step-10 checkpoint
            break
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert _lines(metrics) < STEPS
    resumed = subprocess.run(_command(killed), capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout

    _in_process(killed, tmp_path / "clean")
    assert len(_losses(tmp_path / "killed")) == STEPS
    assert _losses(tmp_path / "killed") == pytest.approx(_losses(tmp_path / "clean"), rel=1e-6)
    mine = load_file(tmp_path / "killed" / "model.safetensors")
    theirs = load_file(tmp_path / "clean" / "model.safetensors")
    assert mine.keys() == theirs.keys()
    for name in mine:
        torch.testing.assert_close(mine[name], theirs[name], rtol=1e-5, atol=1e-6)
