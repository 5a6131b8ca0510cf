"""What a finished run leaves: a Hugging Face folder that stock transformers loads, and a plot.

Why the run folder is the model folder: `config.json`, `model.safetensors` and the tokenizer files
sit beside `metrics.jsonl`, `loss.png` and `run.json`, so `AutoModelForMaskedLM.from_pretrained`
and `bortnas finetune --student` take the `--out` folder as it is (transformers ignores the rest).
Each file arrives by its own rename (a reader never sees half a file); the tokenizer is saved as a
`PreTrainedTokenizerFast` that frames texts as `<s> … </s>` like the student saw them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.hf import quiet

if TYPE_CHECKING:
    from ..text.tokenizer import StudentTokenizer


def hf_tokenizer(tokenizer: StudentTokenizer) -> Any:
    """The student's tokenizer as a `PreTrainedTokenizerFast` with its special tokens named."""
    from tokenizers import Tokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(tokenizer.backend.to_str())  # a copy: the original stays as is
    name = backend.id_to_token
    cls, sep = name(tokenizer.cls_id), name(tokenizer.sep_id)
    backend.post_processor = TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} {sep} $B {sep}",
        special_tokens=[(cls, tokenizer.cls_id), (sep, tokenizer.sep_id)],
    )
    unk = next((t for t in ("<unk>", "[UNK]") if backend.token_to_id(t) is not None), None)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=cls,
        eos_token=sep,
        cls_token=cls,
        sep_token=sep,
        pad_token=name(tokenizer.pad_id),
        mask_token=name(tokenizer.mask_id),
        unk_token=unk,
        model_max_length=None,
    )


def export_model(out: Path, student: Any, tokenizer: StudentTokenizer) -> None:
    """Write the student (safetensors) and its tokenizer into `out`, one rename per file."""
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".model."))
    try:
        with quiet():
            student.save_pretrained(staging, safe_serialization=True)
            hf_tokenizer(tokenizer).save_pretrained(staging)
        umask = os.umask(0)
        os.umask(umask)
        for path in staging.iterdir():
            path.chmod(0o666 & ~umask)  # an ordinary file's permissions, not a temporary's
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def plot_losses(records: list[dict[str, Any]], path: Path) -> None:
    """loss.png: the total loss per step and its parts, with a moving average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..core.files import atomic_path

    steps = np.array([r["step"] for r in records])
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in (("loss", "total"), ("mlm", "masked LM"), ("distillation", "distillation")):
        values = np.array([r.get(key, np.nan) for r in records], dtype=float)
        if not np.isfinite(values).any():
            continue
        window = max(1, len(values) // 50)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1 :], smooth, label=label)
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title("bortnas pretrain")
    axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
