"""Real text for the error proxy, offline: the installed Debian corpora, or the user's own files.

Why these sources: the search must run without a network or a dataset hub, yet train on real
language. The project's set-up installs three Debian packages by name (Makefile):
WordNet glosses (`wordnet-base`, BSD-like licence), the King James Bible (`bible-kjv`, public
domain) and `fortunes`. Together they give ~160k short documents of definitions, narrative prose
and quips — varied enough that a student must learn more than one register.

What happens to the text: whitespace is collapsed, documents outside `[MIN_CHARS, MAX_CHARS]` are
dropped (too short to carry meaning, or long enough to be mostly truncated), exact duplicates are
removed, and each document goes to the held-out split when the first byte of its SHA-256 is below
`HELD_OUT_FRACTION * 256`, so the split is deterministic, independent of order and stable when
documents are added. Both splits are kept in a hash order (not the source order), so any prefix is
a mix of every source. The cleaned corpus is cached as JSON under `default_cache_dir()/corpus`,
keyed by the hash of the raw input; its identity (`Corpus.id`) is the hash of the cleaned text and
goes into every error measurement's provenance.

A user's corpus (`load_corpus(path)`): a UTF-8 text file with one document per line, or a folder of
`.txt` files (each read the same way). Missing paths, empty files, binary or non-UTF-8 files raise
`DataError` naming the path.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import DataError
from ..core.files import cache_path, write_json_atomic
from .wordnet import PARTS, WORDNET_DIR, data_path, synsets

FORTUNES_DIR = Path("/usr/share/games/fortunes")
#: Pictures rather than text.
FORTUNES_SKIPPED = {"ascii-art"}
BIBLE_RANGE = "Gen1:1-Rev22:21"

MIN_CHARS = 20
MAX_CHARS = 600
HELD_OUT_FRACTION = 0.1
#: Version of the cleaning rules; part of the cache key, so a rule change invalidates old caches.
CLEANING_VERSION = 1

_WHITESPACE = re.compile(r"\s+")
_VERSE_LABEL = re.compile(r"^\S+\d+:\d+\s+")


@dataclass(frozen=True)
class Corpus:
    """A cleaned, deduplicated corpus split into train and held-out documents."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]
    source: str

    @property
    def id(self) -> str:
        """Hash of the cleaned splits: the corpus identity recorded in provenance."""
        digest = hashlib.sha256()
        for name, split in (("train", self.train), ("held_out", self.held_out)):
            digest.update(name.encode())
            for document in split:
                digest.update(document.encode())
                digest.update(b"\0")
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.train) + len(self.held_out)


def clean(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _document_hash(document: str) -> bytes:
    return hashlib.sha256(document.encode()).digest()


def split_documents(documents: list[str], *, source: str) -> Corpus:
    """Clean, bound, deduplicate and split by hash (see the module docstring)."""
    kept: dict[str, bytes] = {}
    for raw in documents:
        document = clean(raw)
        if MIN_CHARS <= len(document) <= MAX_CHARS and document not in kept:
            kept[document] = _document_hash(document)
    threshold = int(HELD_OUT_FRACTION * 256)
    ordered = sorted(kept, key=kept.__getitem__)
    train = tuple(d for d in ordered if kept[d][0] >= threshold)
    held_out = tuple(d for d in ordered if kept[d][0] < threshold)
    return Corpus(train=train, held_out=held_out, source=source)


# --- the installed Debian corpora --------------------------------------------------------------


def wordnet_glosses(folder: Path = WORDNET_DIR) -> list[str]:
    """The gloss (definition and examples) after `|` on every synset line of data.{pos}."""
    return [
        synset.gloss
        for part in PARTS
        if data_path(part, folder).is_file()
        for synset in synsets(part, folder)
        if synset.gloss is not None
    ]


def kjv_verses(range_: str = BIBLE_RANGE) -> list[str]:
    """Every verse of the King James Bible via the `bible` program, without its `Ge1:1` labels."""
    program = shutil.which("bible")
    if program is None:
        return []
    try:
        output = subprocess.run(
            [program, "-f", range_], capture_output=True, check=True, timeout=120
        ).stdout.decode("utf-8", errors="replace")
    except (OSError, subprocess.SubprocessError):
        return []
    return [_VERSE_LABEL.sub("", line) for line in output.splitlines()]


def fortunes(folder: Path = FORTUNES_DIR) -> list[str]:
    """Every fortune of every category file (split on `%` lines; no .dat/.u8, no offensive)."""
    texts: list[str] = []
    if not folder.is_dir():
        return texts
    seen: set[Path] = set()
    for path in sorted(folder.iterdir()):
        if path.suffix in {".dat", ".u8"} or path.name in FORTUNES_SKIPPED or not path.is_file():
            continue
        real = path.resolve()
        if real in seen or "off" in real.parts:
            continue
        seen.add(real)
        content = real.read_bytes().decode("utf-8", errors="replace")
        texts.extend(re.split(r"^%\s*$", content, flags=re.MULTILINE))
    return texts


def _default_raw() -> dict[str, list[str]]:
    return {"wordnet": wordnet_glosses(), "kjv": kjv_verses(), "fortunes": fortunes()}


# --- user corpora ------------------------------------------------------------------------------


def _read_text_file(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read corpus file ({exc.strerror})") from None
    if b"\0" in data[:65536]:
        raise DataError(f"{path}: corpus file is binary, expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: corpus file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: corpus file is empty")
    return lines


def _user_raw(path: Path) -> list[str]:
    if not path.exists():
        raise DataError(f"{path}: corpus not found (give a text file or a folder of .txt files)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{path}: corpus folder holds no .txt files")
        return [line for file in files for line in _read_text_file(file)]
    return _read_text_file(path)


# --- loading with a cache ----------------------------------------------------------------------


def _raw_key(raw: dict[str, list[str]]) -> str:
    digest = hashlib.sha256(f"cleaning-v{CLEANING_VERSION}".encode())
    for name in sorted(raw):
        digest.update(name.encode() + b"\1")
        for document in raw[name]:
            digest.update(document.encode("utf-8", errors="replace") + b"\0")
    return digest.hexdigest()[:24]


def load_corpus(path: str | Path | None = None, *, cache: bool = True) -> Corpus:
    """The default Debian corpus (`path=None`), or a user's text file or folder of .txt files.

    The cleaned splits are cached under `default_cache_dir()/corpus`, keyed by the raw content's
    hash, so a changed file is never served stale.
    """
    if path is None:
        raw = _default_raw()
        source = "debian:wordnet-base+bible-kjv+fortunes"
        # A missing source would shrink the corpus silently while its name still claims it.
        packages = {"wordnet": "wordnet-base", "kjv": "bible-kjv", "fortunes": "fortunes"}
        missing = [packages[name] for name, documents in raw.items() if not documents]
        if missing:
            raise DataError(
                f"the default corpus needs the Debian package(s) {', '.join(missing)} "
                "(`make setup` installs them), or give your own with --corpus PATH"
            )
    else:
        resolved = Path(path).expanduser()
        raw = {"user": _user_raw(resolved)}
        source = f"user:{resolved.resolve()}"
    key = _raw_key(raw)
    stored_at = cache_path("corpus", key, suffix=".json")
    if cache:
        try:
            stored = json.loads(stored_at.read_text(encoding="utf-8"))
            corpus = Corpus(
                train=tuple(stored["train"]), held_out=tuple(stored["held_out"]), source=source
            )
            if corpus.id == stored["id"]:
                return corpus
        except (OSError, ValueError, KeyError, TypeError):
            pass
    corpus = split_documents([d for name in sorted(raw) for d in raw[name]], source=source)
    if not corpus.train or not corpus.held_out:
        where = path if path is not None else source
        raise DataError(
            f"{where}: corpus too small after cleaning ({len(corpus)} documents of "
            f"{MIN_CHARS}-{MAX_CHARS} characters; need some for both training and held-out)"
        )
    if cache:
        write_json_atomic(
            stored_at, {"id": corpus.id, "train": corpus.train, "held_out": corpus.held_out}
        )
    return corpus
