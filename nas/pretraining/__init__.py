"""Pretraining a picked shape by distillation (`bortnas pretrain`): Bort's released stage.

Why its own package: it sits between the search (which gives a shape) and fine-tuning (which
takes a checkpoint), and depends on neither: it reads the shape from an exported config.json or
'D A H I', and writes a Hugging Face folder that both transformers and `bortnas finetune` read.
The trainer (torch) loads on first use, so the command line's `--help` stays fast.
"""

from __future__ import annotations

from typing import Any

from .config import PretrainConfig, PretrainError, parse_architecture

__all__ = ["PretrainConfig", "PretrainError", "PretrainResult", "parse_architecture", "pretrain"]


def __getattr__(name: str) -> Any:
    if name in ("pretrain", "PretrainResult"):
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'bortnas.pretraining' has no attribute {name!r}")
