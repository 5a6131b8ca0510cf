"""The student's tokenizer: a small byte-level BPE trained on the corpus, or a user's local one.

Why train our own: Bort's RoBERTa vocabulary (50,265) would make the embedding table and its
optimiser update dominate the cost of training a width-scaled student, and the students never
need to share the teacher's vocabulary when they distil sentence embeddings (measured:
vocabulary 8192 costs a third of 50265 per step). `tokenizers` trains an 8k BPE on the whole
train split in a few seconds; `train_bpe` (the project's one BPE trainer, also used by Agora's
classifier with another recipe) caches it under `default_cache_dir()/tokenizers`, keyed by the
recipe, the vocabulary size and the corpus identity, so it is trained once per corpus.

A user's tokenizer folder (`tokenizer.json`, or anything `AutoTokenizer` reads from a local path;
never the hub, never remote code) replaces it, e.g. to share a teacher's vocabulary so that the
error proxy can distil masked-LM logits, as the paper does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import DataError
from ..core.files import atomic_path, cache_path, content_digest
from ..core.hf import load_local

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from .corpus import Corpus

DEFAULT_VOCAB_SIZE = 8192
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<mask>")
#: Version of the BPE training code; part of the cache key.
RECIPE_VERSION = 1


@dataclass(frozen=True)
class StudentTokenizer:
    """A fast tokenizer plus the ids of the special tokens the error proxy needs."""

    backend: Tokenizer
    pad_id: int
    cls_id: int
    sep_id: int
    mask_id: int
    id: str
    source: str

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def vocabulary(self) -> dict[str, int]:
        return self.backend.get_vocab(with_added_tokens=True)

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Token ids framed by the classification and separator tokens, at most `max_length`."""
        encodings = self.backend.encode_batch(list(texts), add_special_tokens=False)
        room = max(max_length - 2, 1)
        return [[self.cls_id, *e.ids[:room], self.sep_id] for e in encodings]

    def decode(self, ids: list[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=True)


def _first_id(backend: Tokenizer, candidates: tuple[str, ...]) -> int | None:
    for token in candidates:
        index = backend.token_to_id(token)
        if index is not None:
            return index
    return None


def _wrap(backend: Tokenizer, *, source: str, where: str) -> StudentTokenizer:
    ids = {
        "pad": _first_id(backend, ("<pad>", "[PAD]")),
        "cls": _first_id(backend, ("<s>", "[CLS]", "<cls>", "<|endoftext|>")),
        "sep": _first_id(backend, ("</s>", "[SEP]", "<sep>", "<|endoftext|>")),
        "mask": _first_id(backend, ("<mask>", "[MASK]")),
    }
    missing = [name for name, value in ids.items() if value is None]
    if missing:
        raise DataError(f"{where}: tokenizer has no {', '.join(missing)} token")
    digest = hashlib.sha256(backend.to_str().encode()).hexdigest()[:16]
    return StudentTokenizer(
        backend=backend,
        pad_id=ids["pad"],
        cls_id=ids["cls"],
        sep_id=ids["sep"],
        mask_id=ids["mask"],
        id=digest,
        source=source,
    )


def train_bpe(
    texts: Sequence[str],
    *,
    vocab_size: int,
    special_tokens: Sequence[str],
    unk_token: str,
    lowercase: bool,
    content_id: str | None = None,
    cache: bool = True,
) -> Tokenizer:
    """The project's one BPE trainer: byte-level, trained on `texts`, cached by recipe and content.

    The recipe is explicit: `special_tokens` (in id order, from 0), `unk_token`, and `lowercase`
    (an NFKC + lower-case normaliser). The cache file under `default_cache_dir()/tokenizers` is
    keyed by the recipe, the vocabulary size and `content_id` (a caller's identity of `texts`,
    e.g. `Corpus.id`; the hash of the texts when None), so two recipes never share a file.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    recipe = {
        "version": RECIPE_VERSION,
        "vocab_size": vocab_size,
        "special_tokens": list(special_tokens),
        "unk_token": unk_token,
        "lowercase": lowercase,
    }
    if content_id is None:
        content_id = content_digest(list(texts), 16)
    path = cache_path(
        "tokenizers", [recipe, content_id], prefix=f"bpe{vocab_size}-", suffix=".json"
    )
    if cache and path.is_file():
        try:
            return Tokenizer.from_file(str(path))
        except Exception:  # a damaged cache file: retrain below
            path.unlink(missing_ok=True)
    backend = Tokenizer(models.BPE(unk_token=unk_token))
    if lowercase:
        backend.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer, length=len(texts))
    if cache:
        with atomic_path(path) as temporary:
            backend.save(str(temporary))
    return backend


def train_tokenizer(corpus: Corpus, *, vocab_size: int = DEFAULT_VOCAB_SIZE) -> StudentTokenizer:
    """The error proxy's tokenizer: a byte-level BPE of `vocab_size` on the corpus's train split,
    case kept, `SPECIAL_TOKENS` first (cached; see `train_bpe`)."""
    backend = train_bpe(
        corpus.train,
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        unk_token="<unk>",
        lowercase=False,
        content_id=corpus.id,
    )
    return _wrap(backend, source=f"bpe:{vocab_size}:corpus={corpus.id}", where="trained BPE")


def load_tokenizer(path: str | Path) -> StudentTokenizer:
    """A user's local tokenizer: a `tokenizer.json` file, or a folder that holds one or that
    `AutoTokenizer` can read (fast tokenizers only; no hub, no remote code)."""
    from tokenizers import Tokenizer

    where = Path(path).expanduser()
    if not where.exists():
        raise DataError(f"{where}: tokenizer not found")
    file = where / "tokenizer.json" if where.is_dir() else where
    if file.is_file():
        try:
            backend = Tokenizer.from_file(str(file))
        except Exception as exc:
            raise DataError(f"{file}: not a readable tokenizer.json ({exc})") from None
        return _wrap(backend, source=f"user:{where.resolve()}", where=str(where))
    from transformers import AutoTokenizer

    loaded = load_local(AutoTokenizer, where, role="tokenizer", weights=False, use_fast=True)
    backend = getattr(loaded, "backend_tokenizer", None)
    if backend is None:
        raise DataError(f"{where}: tokenizer has no fast (tokenizers) implementation")
    return _wrap(backend, source=f"user:{where.resolve()}", where=str(where))
