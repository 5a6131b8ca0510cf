"""Train and evaluate a BERT-shaped sequence classifier: the student of Agora and of plain tuning.

Why one small module: Agora trains many students (one per hyper-parameter configuration and
round), so training must be one deterministic function of (initial weights, data, θ, seed) with
its cost counted (optimizer steps, examples seen) — the cost is what the benchmark compares.

Tokenizer choice: the student gets a small byte-level BPE trained with `tokenizers` on the task's
*training* split only (never eval or test), cached under `default_cache_dir()/tokenizers`. Byte
level means every generated text (synonyms, deletions) tokenizes without unknown tokens. The
student's embedding table follows this tokenizer: its `vocab_size` replaces the architecture's
(Bort's 50265-entry RoBERTa vocabulary would be almost all unused rows at a few hundred examples);
D, A, H, I are kept. A student loaded from a checkpoint keeps the checkpoint's tokenizer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.architecture import Architecture
from ..core.errors import DataError
from ..core.files import atomic_directory, cache_path, content_digest
from ..core.hf import checkpoint_fingerprint, quiet, shipped_minilm_folder
from ..core.schedule import linear_warmup_decay
from ..core.theta import Hyperparameters
from ..text.tokenizer import train_bpe
from .config import DEFAULT_MAX_LENGTH
from .tasks import Split
from .teacher import (
    ClassifierTeacher,
    encode,
    load_classifier,
    load_classifier_from_encoder,
    predict_proba,
)


@dataclass(frozen=True)
class TrainStats:
    """What one training run cost."""

    steps: int
    examples: int


#: Agora's BPE recipe: BERT-style special tokens, NFKC and lower-case (see `train_bpe`).
CLASSIFIER_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def classifier_tokenizer(texts: tuple[str, ...] | list[str], vocab_size: int, *, cache=True):
    """A byte-level BPE `PreTrainedTokenizerFast` fit on `texts` (cached by content and size)."""
    from transformers import PreTrainedTokenizerFast

    core = train_bpe(
        list(texts),
        vocab_size=vocab_size,
        special_tokens=CLASSIFIER_SPECIAL_TOKENS,
        unk_token="[UNK]",
        lowercase=True,
        cache=cache,
    )
    from tokenizers.processors import TemplateProcessing

    core.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", core.token_to_id("[CLS]")), ("[SEP]", core.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def build_student(
    architecture: Architecture,
    tokenizer: Any,
    num_labels: int,
    *,
    seed: int,
    init_from: str | Path | None = None,
):
    """A `BertForSequenceClassification` of the architecture, seeded, or loaded from a folder."""
    from transformers import BertForSequenceClassification
    from transformers.utils import logging

    torch.manual_seed(seed)
    if init_from is not None:
        return load_classifier(init_from, num_labels)[0]
    config = architecture.to_bert_config(
        vocab_size=len(tokenizer),
        num_labels=num_labels,
        pad_token_id=tokenizer.pad_token_id,
    )
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        return BertForSequenceClassification(config)
    finally:
        logging.set_verbosity(verbosity)


def train_classifier(
    model: Any,
    tokenizer: Any,
    data: Split,
    theta: Hyperparameters,
    *,
    seed: int,
    max_length: int,
    total_steps: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> TrainStats:
    """AdamW with linear warm-up then linear decay; `total_steps` overrides θ's epochs.

    Refuses the test split: that is one of the two walls that keep it out of training.
    """
    if data.role == "test":
        raise DataError("the test split must never be used for training")
    if len(data) == 0:
        raise DataError("cannot train on an empty training split")
    per_epoch = math.ceil(len(data) / theta.batch_size)
    steps = total_steps if total_steps is not None else per_epoch * theta.epochs
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": theta.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=theta.learning_rate,
    )

    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: linear_warmup_decay(step, steps, theta.warmup)
    )
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    labels = torch.tensor(data.labels)
    model.train()
    step = seen = 0
    while step < steps:
        order = torch.randperm(len(data), generator=generator).tolist()
        for start in range(0, len(order), theta.batch_size):
            if step >= steps:
                break
            batch = order[start : start + theta.batch_size]
            inputs = encode(tokenizer, [data.texts[i] for i in batch], max_length)
            loss = model(**inputs, labels=labels[batch]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            if on_step is not None:
                on_step(step, steps)
    model.eval()
    return TrainStats(steps=step, examples=seen)


@torch.no_grad()
def evaluate(model: Any, tokenizer: Any, data: Split, *, max_length: int):
    """(accuracy, predicted labels) on a split."""
    predictions = predict_proba(model, tokenizer, data.texts, max_length=max_length).argmax(-1)
    correct = sum(int(p) == y for p, y in zip(predictions.tolist(), data.labels, strict=True))
    return correct / max(1, len(data)), predictions.tolist()


#: How the default teacher is fine-tuned (fixed, not tuned on any split).
TEACHER_THETA = Hyperparameters(
    learning_rate=1e-4, batch_size=16, epochs=4, warmup=0.1, weight_decay=0.01, seed=0
)


def finetuned_teacher_identity(
    train: Split, num_labels: int, theta: Hyperparameters, max_length: int, base: Path
) -> dict[str, Any]:
    """What the fine-tuned teacher depends on: the base checkpoint's content, never its name."""
    return {
        "source": "fine-tuned encoder",
        "base": checkpoint_fingerprint(base),
        "train": train.fingerprint,
        "num_labels": num_labels,
        "theta": theta.to_dict(),
        "max_length": max_length,
    }


def finetuned_teacher(
    train: Split,
    num_labels: int,
    *,
    theta: Hyperparameters = TEACHER_THETA,
    max_length: int = DEFAULT_MAX_LENGTH,
    cache_dir: str | Path | None = None,
    base: str | Path | None = None,
) -> ClassifierTeacher:
    """Agora's default teacher: an encoder (all-MiniLM-L6-v2 unless `base`) with a classification
    head, fine-tuned on the task's training split only, cached under `teachers/<key>`."""
    if train.role != "train":
        raise DataError(f"the teacher is fine-tuned on the train split only, got {train.role!r}")
    base = Path(base) if base is not None else shipped_minilm_folder()
    identity = finetuned_teacher_identity(train, num_labels, theta, max_length, base)
    if cache_dir is None:
        folder = cache_path("teachers", identity, length=16)
    else:
        folder = Path(cache_dir) / content_digest(identity, 16)
    if (folder / "bortnas_teacher.json").is_file():
        model, tokenizer = load_classifier(folder, num_labels)
        return ClassifierTeacher(model, tokenizer, identity, max_length)
    model, tokenizer = load_classifier_from_encoder(base, num_labels)
    train_classifier(model, tokenizer, train, theta, seed=theta.seed, max_length=max_length)
    # Another process may finish first; its teacher is equivalent, so the first one stays.
    with atomic_directory(folder, keep_existing=True) as staging, quiet():
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "bortnas_teacher.json").write_text(json.dumps(identity, indent=2))
    return ClassifierTeacher(model, tokenizer, identity, max_length)
