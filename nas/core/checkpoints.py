"""The one check every user checkpoint folder passes before anything is loaded from it.

Why one place: teachers for the error proxy, Agora's teachers and students all come from folders
a user names. Loading pickled weights (`pytorch_model.bin`, `.pt`) can run arbitrary code, so
bortnas loads safetensors only, never with `trust_remote_code`, and says why when it refuses.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DataError

PICKLE_SUFFIXES = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt")


def safetensors_checkpoint(folder: str | Path, *, role: str = "checkpoint") -> list[Path]:
    """The folder's `.safetensors` files, after checking it is a usable local checkpoint.

    Raises `DataError` (one line, naming the folder) for a missing folder, a missing
    `config.json`, pickle-only weights (refused, with the reason), or no weights at all.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: {role} folder not found (a folder with config.json and weights)")
    if not (path / "config.json").is_file():
        raise DataError(f"{path}: {role} folder has no config.json")
    weights = sorted(path.glob("*.safetensors"))
    if weights:
        return weights
    if any(any(path.glob(pattern)) for pattern in PICKLE_SUFFIXES):
        raise DataError(
            f"{path}: {role} weights are pickle-only (.bin/.pt); loading pickle can run arbitrary "
            "code, so bortnas loads safetensors only (convert with "
            "save_pretrained(folder, safe_serialization=True))"
        )
    raise DataError(f"{path}: {role} folder holds no model weights (.safetensors)")
