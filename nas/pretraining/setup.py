"""What a pretraining run reads, resolved from its settings: shape, corpus, tokenizer, teacher.

Why one module: every choice that decides the loss (which tokenizer the student gets, whether the
teacher's logits can be distilled) is made here, once, from the settings, and its content identity
goes into the run's identity, so a run never resumes on other data than it started with.
The corpus, tokenizer and teacher loaders are the error proxy's (`bortnas.proxies`), so the two
read user files with the same checks and the same one-line errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bortnas.proxies.teacher import EmbeddingTeacher, load_embedding_teacher

from ..core.architecture import Architecture
from ..core.errors import DataError
from ..core.hf import quiet
from ..text.corpus import Corpus, load_corpus
from ..text.tokenizer import StudentTokenizer, load_tokenizer, train_tokenizer
from .config import PretrainConfig, parse_architecture
from .objective import Distiller, distillation_mode

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Ingredients:
    """The resolved inputs of a run."""

    architecture: Architecture
    corpus: Corpus
    tokenizer: StudentTokenizer
    teacher: EmbeddingTeacher | None
    mode: str

    def facts(self) -> dict[str, Any]:
        """Content identities (not paths) of what the run reads: part of the run's identity."""
        return {
            "architecture": self.architecture.name,
            "corpus": self.corpus.id,
            "tokenizer": self.tokenizer.id,
            "teacher": self.teacher.id if self.teacher is not None else "none",
            "mode": self.mode,
        }


def _tokenizer(
    config: PretrainConfig, corpus: Corpus, teacher: EmbeddingTeacher | None
) -> StudentTokenizer:
    choice = config.tokenizer
    if choice == "auto":
        choice = "teacher" if teacher is not None and teacher.has_masked_lm_head else "corpus"
    if choice == "corpus":
        return train_tokenizer(corpus, vocab_size=config.vocab_size)
    if choice == "teacher":
        if teacher is None:
            raise DataError("--tokenizer teacher needs a teacher (not --teacher none)")
        return load_tokenizer(teacher.folder)
    return load_tokenizer(choice)


def gather(config: PretrainConfig, device: str) -> Ingredients:
    """Resolve every input; a bad one raises a one-line `BortnasError` before any training."""
    architecture = parse_architecture(config.arch)
    corpus = load_corpus(None if config.corpus == "default" else config.corpus)
    teacher = load_embedding_teacher(config.teacher, device=device)
    tokenizer = _tokenizer(config, corpus, teacher)
    if teacher is not None:
        with quiet():
            # Load now, so a malformed teacher fails here (one line), not at the first step.
            _ = teacher.masked_lm if teacher.has_masked_lm_head else teacher.encoder
    return Ingredients(
        architecture, corpus, tokenizer, teacher, distillation_mode(teacher, tokenizer)
    )


def build_model(config: PretrainConfig, ingredients: Ingredients) -> torch.nn.Module:
    """The seeded student (`BertForMaskedLM` of the shape, the tokenizer's vocabulary) in its
    `Distiller`; every process builds the same weights from `config.seed`."""
    import torch
    from transformers import BertForMaskedLM

    architecture, tokenizer = ingredients.architecture, ingredients.tokenizer
    bert = architecture.to_bert_config(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=max(architecture.max_positions, config.sequence_length),
        pad_token_id=tokenizer.pad_id,
        bos_token_id=tokenizer.cls_id,
        eos_token_id=tokenizer.sep_id,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        architectures=["BertForMaskedLM"],
    )
    torch.manual_seed(config.seed)
    with quiet():
        student = BertForMaskedLM(bert)
    teacher_dim = 0
    if ingredients.mode == "embeddings":
        assert ingredients.teacher is not None
        teacher_dim = ingredients.teacher.embedding_dim
    return Distiller(student, teacher_dim)
