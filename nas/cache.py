"""An on-disk cache of measurements: one checksummed JSON file per entry, written atomically.

Why files and not a database: measurements must survive a crash mid-write (atomic rename), be
shareable between processes without locks (one writer per key wins, all values are equivalent),
and never be trusted when damaged — every entry carries the SHA-256 of its payload, and an entry
whose checksum does not match is discarded and recomputed, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bortnas.errors import StoreError
from bortnas.proxies.base import Measurement


def default_cache_dir() -> Path:
    """`$BORTNAS_CACHE`, else `$XDG_CACHE_HOME/bortnas`, else `~/.cache/bortnas`."""
    if "BORTNAS_CACHE" in os.environ:
        return Path(os.environ["BORTNAS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bortnas"


def _checksum(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


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


class MeasurementCache:
    """Measurements keyed by `Proxy.cache_key`, under one folder."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir() / "measurements"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.folder}: cannot create cache folder ({exc.strerror})"
            ) from None
        if not os.access(self.folder, os.W_OK):
            raise StoreError(f"{self.folder}: cache folder is not writable")

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid cache key {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Measurement | None:
        """The stored measurement, or None when absent or damaged (damaged ones are removed)."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            payload = entry["measurement"]
            if entry["sha256"] != _checksum(payload):
                raise ValueError("checksum mismatch")
            return Measurement.from_dict(payload)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            warnings.warn(
                f"discarding damaged cache entry {path} ({exc}); recomputing", stacklevel=2
            )
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, measurement: Measurement) -> None:
        payload = json.loads(json.dumps(measurement.to_dict(), default=str))
        write_json_atomic(self._path(key), {"sha256": _checksum(payload), "measurement": payload})

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))
