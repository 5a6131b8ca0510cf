"""Export an architecture as a `config.json` that stock transformers loads as is.

Why a plain HF config: the exported pick must be usable without bortnas — `AutoConfig` and
`AutoModel.from_pretrained`-style loading read it directly (model_type `bert`). bortnas' own
metadata (space, proxy values, version) lives under the single extra key `bortnas`, which
transformers keeps as an unused attribute and we read back with `load_architecture`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.architecture import Architecture
from ..core.errors import ArchitectureError, StoreError
from ..core.files import write_json_atomic
from ..core.version import bortnas_version

METADATA_KEY = "bortnas"
CONFIG_NAME = "config.json"


def export_architecture(
    architecture: Architecture, folder: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write `folder/config.json` for the architecture; return its path."""
    folder = Path(folder)
    config = architecture.to_bert_config().to_dict()
    config[METADATA_KEY] = {
        "version": bortnas_version(),
        "architecture": architecture.to_dict(),
        "id": architecture.id,
        **(metadata or {}),
    }
    path = folder / CONFIG_NAME
    try:
        write_json_atomic(path, config)
    except OSError as exc:
        raise StoreError(f"{folder}: cannot write {CONFIG_NAME} ({exc.strerror})") from None
    return path


def load_architecture(path: str | Path) -> tuple[Architecture, dict[str, Any]]:
    """Read an exported `config.json` (or its folder) back into an architecture and metadata."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArchitectureError(f"{path}: no such architecture file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchitectureError(f"{path}: not a JSON architecture file ({exc})") from None
    except OSError as exc:
        raise ArchitectureError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ArchitectureError(f"{path}: expected a JSON object, got {type(data).__name__}")
    metadata = data.get(METADATA_KEY, {})
    if not isinstance(metadata, dict):
        raise ArchitectureError(f"{path}: '{METADATA_KEY}' must be an object")
    try:
        architecture = Architecture.from_bert_config(data)
    except ArchitectureError as exc:
        raise ArchitectureError(f"{path}: {exc}") from None
    return architecture, metadata
