"""Where bortnas keeps files, and the one way it writes them: atomically.

Why one helper: a reader (or a second worker writing the same file) must see either the old file
or the whole new one, never a part, and a crash mid-write must leave the old one intact. Files go
through `atomic_path` (or `write_json_atomic`), model folders through `atomic_directory`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def content_digest(payload: Any, length: int = 64) -> str:
    """The one content-addressed key: SHA-256 of `payload` as canonical JSON (sorted keys,
    unknown types as text), its first `length` hex digits. Caches, study names and checksums
    all key on it, so the same content gets the same key everywhere."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def cache_path(
    kind: str, payload: Any, *, prefix: str = "", suffix: str = "", length: int = 24
) -> Path:
    """Where a content-addressed artefact of `kind` lives: `default_cache_dir()/kind/` and a name
    made of `prefix`, the `content_digest` of `payload` and `suffix`. Every cache (corpus,
    tokenizers, teacher embeddings, fine-tuned teachers) names its files this one way, so changed
    content never meets a stale file."""
    return default_cache_dir() / kind / f"{prefix}{content_digest(payload, length)}{suffix}"


def default_cache_dir() -> Path:
    """`$BORTNAS_CACHE`, else `$XDG_CACHE_HOME/bortnas`, else `~/.cache/bortnas`."""
    if "BORTNAS_CACHE" in os.environ:
        return Path(os.environ["BORTNAS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bortnas"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    Why: a reader (or a second worker writing the same report) sees either the old file or the
    whole new one, never a part, and a crash mid-write leaves the old file intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see `atomic_path`), flushed to disk before the rename."""
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True, default=str)
        stream.flush()
        os.fsync(stream.fileno())


@contextmanager
def atomic_directory(path: Path, *, keep_existing: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside `path`; on success it takes `path`'s place.

    A new folder arrives in one rename. An existing one is replaced in two (old out, new in): an
    exception between them puts the old folder back. `keep_existing`: when `path` already exists
    (another process finished the same, equivalent work first), keep it and drop the staging
    folder. The folder gets the permissions of an ordinary `mkdir` (the umask), not mkdtemp's 0700.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    retired: Path | None = None
    try:
        yield staging
        if keep_existing and path.exists():
            shutil.rmtree(staging)
            return
        if path.exists():
            retired = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old.")) / "old"
            os.replace(path, retired)
        try:
            os.replace(staging, path)
        except OSError:
            if keep_existing and path.is_dir():  # another process renamed its copy in first
                shutil.rmtree(staging, ignore_errors=True)
                return
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None and not path.exists():
            os.replace(retired, path)  # the old folder goes back where it was
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired.parent, ignore_errors=True)
