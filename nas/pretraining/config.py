"""The settings of one pretraining run: one frozen dataclass, the only place a default lives.

Why a dataclass: `bortnas pretrain`'s options are generated from its fields (`help`, `choices`
and `metavar` in the field metadata), the Python API takes it as is, and the run's identity
(`run.json`, which decides whether a folder resumes) is built from the same fields, so the three
cannot disagree. Fields whose metadata says `identity: False` (where the run is written, how it
reports, the device) do not change the numbers and may differ between a run and its resumption.

Loss weights default to Bort's released recipe (`run_pretraining_distillation.sh`): mlm_weight
0.1, teacher_ce_weight 0.5, temperature 2, learning rate 1e-4.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..core.architecture import Architecture
from ..core.errors import ArchitectureError, BortnasError
from ..core.settings import in_range, one_of, setting, whole_at_least

DEVICES = ("cpu", "cuda", "auto")
PRECISIONS = ("fp32", "bf16", "fp16")


class PretrainError(BortnasError, ValueError):
    """A pretraining setting out of range, or a run folder that cannot be resumed."""


@dataclass(frozen=True, kw_only=True)
class PretrainConfig:
    """How a student is pretrained: what, from which teacher and text, for how long, how."""

    arch: str = field(
        metadata=setting(
            "the student: an exported pick (folder or config.json) or a shape 'D A H I'",
            metavar="DIR|'D A H I'",
        )
    )
    out: str = field(
        metadata=setting(
            "run folder: checkpoints, metrics.jsonl, loss.png and, at the end, the Hugging Face "
            "model; run the same command again to resume",
            identity=False,
            metavar="DIR",
        )
    )
    teacher: str = field(
        default="default",
        metadata=setting(
            "default: all-MiniLM-L6-v2 (no masked-LM head, its own vocabulary: its sentence "
            "embedding is distilled); a folder with a masked-LM head whose tokenizer the student "
            "uses: Bort's recipe (KL over masked tokens); none: masked LM alone",
            metavar="default|none|DIR",
        ),
    )
    corpus: str = field(
        default="default",
        metadata=setting(
            "default: the installed Debian texts (WordNet, KJV, fortunes); or a UTF-8 file "
            "(one document per line) or a folder of .txt",
            metavar="default|PATH",
        ),
    )
    tokenizer: str = field(
        default="auto",
        metadata=setting(
            "auto: the teacher's when it has a masked-LM head, else a byte-level BPE trained on "
            "the corpus (--vocab-size); corpus; teacher; or a tokenizer folder/file",
            metavar="auto|corpus|teacher|PATH",
        ),
    )
    vocab_size: int = field(default=8192, metadata=setting("size of the corpus-trained BPE"))
    steps: int = field(default=1000, metadata=setting("optimizer steps (unless --tokens)"))
    tokens: int | None = field(
        default=None,
        metadata=setting("token budget instead of --steps: steps = tokens / (batch x length)"),
    )
    batch_size: int = field(
        default=32, metadata=setting("global batch (split evenly across torchrun processes)")
    )
    sequence_length: int = field(default=128, metadata=setting("tokens per document (cut)"))
    learning_rate: float = field(default=1e-4, metadata=setting("peak AdamW rate (Bort: 1e-4)"))
    warmup: float = field(
        default=0.1, metadata=setting("fraction of steps of linear warm-up, then linear decay")
    )
    weight_decay: float = field(default=0.01, metadata=setting("AdamW weight decay"))
    max_grad_norm: float = field(default=1.0, metadata=setting("gradient clipping norm"))
    mask_probability: float = field(default=0.15, metadata=setting("masked-LM rate (80/10/10)"))
    mlm_weight: float = field(default=0.1, metadata=setting("weight of the masked-LM loss"))
    distillation_weight: float = field(
        default=0.5,
        metadata=setting("weight of the distillation loss (Bort's teacher_ce_weight)"),
    )
    temperature: float = field(default=2.0, metadata=setting("KL temperature T (loss x T²)"))
    dropout: float = field(default=0.1, metadata=setting("hidden and attention dropout"))
    seed: int = field(default=0, metadata=setting("initial weights, data order and masks"))
    device: str = field(
        default="auto", metadata=setting("where to train", identity=False, choices=DEVICES)
    )
    precision: str = field(
        default="fp32", metadata=setting("autocast precision", choices=PRECISIONS)
    )
    checkpoint_every: int = field(
        default=100, metadata=setting("steps between checkpoints", identity=False)
    )
    threads: int | None = field(
        default=None, metadata=setting("torch CPU threads per process", identity=False)
    )
    restart: bool = field(
        default=False, metadata=setting("discard a previous run in --out", identity=False)
    )

    def __post_init__(self) -> None:
        whole = ("vocab_size", "steps", "batch_size", "checkpoint_every", "tokens", "threads")
        whole_at_least(self, 1, whole, PretrainError)
        whole_at_least(self, 8, ("sequence_length",), PretrainError)
        in_range(self, ("learning_rate", "temperature"), PretrainError, low=0, interval="()")
        in_range(self, ("warmup", "dropout"), PretrainError, low=0, high=1, interval="[)")
        in_range(self, ("mask_probability",), PretrainError, low=0, high=1, interval="()")
        nonnegative = ("weight_decay", "max_grad_norm", "mlm_weight", "distillation_weight")
        in_range(self, nonnegative, PretrainError, low=0)
        one_of(self, "device", DEVICES, PretrainError)
        one_of(self, "precision", PRECISIONS, PretrainError)

    @property
    def total_steps(self) -> int:
        """--tokens, counted in sequence positions, turned into steps; else --steps."""
        if self.tokens is None:
            return self.steps
        return max(1, math.ceil(self.tokens / (self.batch_size * self.sequence_length)))

    def identity(self) -> dict[str, Any]:
        """The settings that decide the numbers (what a resumed run must share)."""
        values = asdict(self)
        return {f.name: values[f.name] for f in fields(self) if f.metadata.get("identity", True)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_architecture(spec: str) -> Architecture:
    """`'D A H I'` (spaces or commas), an exported config.json, or the folder holding one."""
    parts = spec.replace(",", " ").split()
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        depth, heads, hidden, intermediate = (int(p) for p in parts)
        return Architecture(depth, heads, hidden, intermediate)
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ArchitectureError(
            f"{spec}: not a shape 'D A H I' nor an exported architecture (folder or config.json)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchitectureError(f"{path}: not a JSON architecture file ({exc})") from None
    if not isinstance(data, dict):
        raise ArchitectureError(f"{path}: expected a JSON object")
    try:
        return Architecture.from_bert_config(data)
    except ArchitectureError as exc:
        raise ArchitectureError(f"{path}: {exc}") from None
