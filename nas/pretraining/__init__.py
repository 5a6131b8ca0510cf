"""Pretraining a picked shape by distillation (`bortnas pretrain`): Bort's released stage.

Why its own package: it sits between the search (which gives a shape) and fine-tuning (which
takes a checkpoint), and depends on neither: it reads the shape from an exported config.json or
'D A H I', and writes a Hugging Face folder that both transformers and `bortnas finetune` read.
"""

from .config import PretrainConfig, PretrainError, parse_architecture
from .trainer import PretrainResult, pretrain

__all__ = ["PretrainConfig", "PretrainError", "PretrainResult", "parse_architecture", "pretrain"]
