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

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bortnas.architecture import Architecture
from bortnas.errors import DataError
from bortnas.proxies.schedule import linear_warmup_decay
from bortnas.proxies.tokenizer import train_bpe
from bortnas.tasks import Split
from bortnas.theta import Hyperparameters


@dataclass(frozen=True)
class TrainStats:
    """What one training run cost."""

    steps: int
    examples: int


#: Agora's BPE recipe: BERT-style special tokens, NFKC and lower-case (see `train_bpe`).
CLASSIFIER_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def classifier_tokenizer(texts: tuple[str, ...] | list[str], vocab_size: int = 2048, *, cache=True):
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
        from bortnas.teacher import load_classifier

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


def encode(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    return tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_token_type_ids=False,
    )


def train_classifier(
    model: Any,
    tokenizer: Any,
    data: Split,
    theta: Hyperparameters,
    *,
    seed: int,
    max_length: int = 64,
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
def predict_proba(
    model: Any, tokenizer: Any, texts: list[str] | tuple[str, ...], *, max_length: int = 64
) -> torch.Tensor:
    """Class probabilities, one row per text (eval mode, batches of 64)."""
    model.eval()
    rows = []
    for start in range(0, len(texts), 64):
        inputs = encode(tokenizer, list(texts[start : start + 64]), max_length)
        rows.append(torch.softmax(model(**inputs).logits.float(), dim=-1))
    return torch.cat(rows) if rows else torch.empty(0, model.config.num_labels)


def evaluate(model: Any, tokenizer: Any, data: Split, *, max_length: int = 64):
    """(accuracy, predicted labels) on a split."""
    predictions = predict_proba(model, tokenizer, data.texts, max_length=max_length).argmax(-1)
    correct = sum(int(p) == y for p, y in zip(predictions.tolist(), data.labels, strict=True))
    return correct / max(1, len(data)), predictions.tolist()
