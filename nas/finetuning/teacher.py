"""Agora's teacher: a classifier with loose accuracy requirements that labels generated texts.

Agora grows a scarce training set with generated texts; the teacher labels them. It is a user's
safetensors classifier folder, or the default all-MiniLM-L6-v2 fine-tuned on the train split
(`classification.finetuned_teacher`). Every folder loads through `bortnas.core.hf.load_local`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..core.errors import DataError
from ..core.hf import checkpoint_fingerprint, load_local
from .config import DEFAULT_MAX_LENGTH

if TYPE_CHECKING:
    import torch

#: Texts per forward pass when a classifier predicts.
PREDICT_BATCH = 64


def encode(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """A classifier's padded, truncated batch (no token types: BERT's default segment)."""
    return tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_token_type_ids=False,
    )


def predict_proba(
    model: Any, tokenizer: Any, texts: list[str] | tuple[str, ...], *, max_length: int
) -> torch.Tensor:
    """Class probabilities of a sequence classifier, one row per text (eval mode, no gradient)."""
    import torch

    model.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(texts), PREDICT_BATCH):
            inputs = encode(tokenizer, list(texts[start : start + PREDICT_BATCH]), max_length)
            rows.append(torch.softmax(model(**inputs).logits.float(), dim=-1))
    return torch.cat(rows) if rows else torch.empty(0, model.config.num_labels)


class LabelledTexts(Protocol):
    """What a classifier is scored on (a task's split)."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass
class ClassifierTeacher:
    """A classifier and its tokenizer; `label` gives hard labels and their confidence."""

    model: Any
    tokenizer: Any
    identity: dict[str, Any] = field(default_factory=dict)
    max_length: int = DEFAULT_MAX_LENGTH

    def label(self, texts: list[str] | tuple[str, ...]) -> tuple[list[int], list[float]]:
        probabilities = predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length)
        confidence, labels = probabilities.max(-1) if len(texts) else (probabilities, probabilities)
        return [int(x) for x in labels.tolist()], [float(x) for x in confidence.tolist()]

    def accuracy(self, data: LabelledTexts) -> float:
        predicted, _ = self.label(data.texts)
        return sum(p == y for p, y in zip(predicted, data.labels, strict=True)) / max(
            1, len(data.labels)
        )


def load_classifier(path: str | Path, num_labels: int) -> tuple[Any, Any]:
    """(model, tokenizer) from a local safetensors checkpoint folder; refuses pickle weights."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = load_local(AutoModelForSequenceClassification, path, num_labels=num_labels)
    tokenizer = load_local(AutoTokenizer, path, role="tokenizer", weights=False)
    if model.config.num_labels != num_labels:
        raise DataError(
            f"{path}: the checkpoint has {model.config.num_labels} labels, the task {num_labels}"
        )
    model.eval()
    return model, tokenizer


def load_classifier_teacher(
    path: str | Path, num_labels: int, *, max_length: int = DEFAULT_MAX_LENGTH
) -> ClassifierTeacher:
    """A user's classifier checkpoint as Agora's teacher; its identity hashes the content."""
    model, tokenizer = load_classifier(path, num_labels)
    identity = {"source": str(Path(path).resolve()), "fingerprint": checkpoint_fingerprint(path)}
    return ClassifierTeacher(model, tokenizer, identity, max_length)


def load_classifier_from_encoder(path: Path, num_labels: int) -> tuple[Any, Any]:
    """A sequence classifier on top of a plain (headless) encoder checkpoint, seeded head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = load_local(
        AutoModelForSequenceClassification, path, role="teacher", num_labels=num_labels
    )
    return model, load_local(AutoTokenizer, path, role="teacher tokenizer", weights=False)
