"""`torchrun --nproc-per-node 2 -m bortnas pretrain` (gloo, CPU) equals one process with the same
global batch: same loss curve and same weights, up to float rounding of the all-reduce."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bortnas.pretraining import PretrainConfig

from .test_pretrain import genesis
from .test_pretrain_resume import _command, _in_process, _losses

SETTINGS = dict(arch="2 2 32 64", steps=6, batch_size=8, sequence_length=32, vocab_size=600)
SETTINGS |= dict(device="cpu", threads=1, learning_rate=1e-3, checkpoint_every=3, dropout=0.0)


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path: Path) -> None:
    corpus = genesis(tmp_path)
    config = PretrainConfig(**SETTINGS, corpus=str(corpus), out=str(tmp_path / "ddp"))
    command = _command(config)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += ["--nproc-per-node", "2", "-m", "bortnas", *command[3:]]
    ran = subprocess.run(launcher, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "2 process(es)" in ran.stdout

    _in_process(config, tmp_path / "one")
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "one"), rel=1e-5)
    two, one = (load_file(tmp_path / n / "model.safetensors") for n in ("ddp", "one"))
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5)
