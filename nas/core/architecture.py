"""The candidate of a search: BERT's four architectural parameters plus the context they live in.

Why a frozen dataclass: candidates are dictionary keys, cache keys and Optuna trial parameters, so
they must be hashable, comparable and immutable. Its `id` is a hash of its configuration (as in
Archai), which lets every store recognise a candidate it has already evaluated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from .errors import ArchitectureError

if TYPE_CHECKING:
    from transformers import BertConfig

#: Bort's context (transformers' Bort config): RoBERTa BPE vocabulary, 514 positions, 1 type.
BORT_VOCAB_SIZE = 50265
BORT_MAX_POSITIONS = 514
BORT_TYPE_VOCAB_SIZE = 1
BORT_LAYER_NORM_EPS = 1e-5

#: Upper bound on any single dimension: far above any real encoder, low enough that a typo such as
#: an extra zero (or a fuzzer) cannot ask us to allocate terabytes.
MAX_DIMENSION = 1_000_000
#: The four searched dimensions (Architecture's fields) and the paper's letters for them, in order.
DIMENSIONS = ("depth", "heads", "hidden", "intermediate")
SYMBOLS = ("D", "A", "H", "I")
#: The fixed context every candidate of a space shares.
CONTEXT_KEYS = ("vocab_size", "max_positions", "type_vocab_size")

#: The one mapping between our field names and `transformers.BertConfig`'s.
BERT_CONFIG_KEYS = {
    "depth": "num_hidden_layers",
    "heads": "num_attention_heads",
    "hidden": "hidden_size",
    "intermediate": "intermediate_size",
    "vocab_size": "vocab_size",
    "max_positions": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
}

_DIMENSION_NAMES = {
    "depth": "D (depth, encoder layers)",
    "heads": "A (attention heads)",
    "hidden": "H (hidden size)",
    "intermediate": "I (intermediate, feed-forward size)",
    "vocab_size": "vocabulary size",
    "max_positions": "maximum positions",
    "type_vocab_size": "type vocabulary size",
}


@dataclass(frozen=True, order=True)
class Architecture:
    """A BERT encoder shape: depth D, heads A, hidden H, intermediate I, and its fixed context.

    The context (vocabulary, positions, token types) is shared by every candidate of a space; it
    is part of the architecture because it changes the parameter count and the exported config.
    """

    depth: int
    heads: int
    hidden: int
    intermediate: int
    vocab_size: int = BORT_VOCAB_SIZE
    max_positions: int = BORT_MAX_POSITIONS
    type_vocab_size: int = BORT_TYPE_VOCAB_SIZE

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            label = _DIMENSION_NAMES[field.name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArchitectureError(
                    f"{label} must be a whole number, got {value!r} ({type(value).__name__})"
                )
            if value <= 0:
                raise ArchitectureError(f"{label} must be positive, got {value}")
            if value > MAX_DIMENSION:
                raise ArchitectureError(f"{label} must be at most {MAX_DIMENSION:,}, got {value:,}")
        if self.hidden % self.heads:
            raise ArchitectureError(
                f"H (hidden size) {self.hidden} is not divisible by A (attention heads) "
                f"{self.heads}: each head needs an equal share of the hidden size"
            )

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(D, A, H, I): the four searched parameters, in the paper's order."""
        return (self.depth, self.heads, self.hidden, self.intermediate)

    @property
    def name(self) -> str:
        """A short label that names each dimension, e.g. `D4-A8-H1024-I768`."""
        return f"D{self.depth}-A{self.heads}-H{self.hidden}-I{self.intermediate}"

    @property
    def id(self) -> str:
        """A stable 12-hex-digit hash of the whole configuration (shape and context)."""
        payload = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        """Build from a plain mapping (JSON, TOML, Optuna params), rejecting unknown keys."""
        if not isinstance(data, dict):
            raise ArchitectureError(f"an architecture must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ArchitectureError(
                f"unknown architecture key(s) {', '.join(map(repr, unknown))}; "
                f"expected {', '.join(sorted(known))}"
            )
        missing = sorted(set(DIMENSIONS) - set(data))
        if missing:
            raise ArchitectureError(f"architecture is missing {', '.join(missing)}")
        return cls(**data)

    def with_shape(self, **changes: int) -> Architecture:
        """A copy with some dimensions replaced (validated again)."""
        return Architecture(**{**self.to_dict(), **changes})

    def to_bert_config(self, **overrides: Any) -> BertConfig:
        """The `transformers.BertConfig` of this architecture (Bort's layer-norm eps)."""
        from transformers import BertConfig

        settings: dict[str, Any] = {
            theirs: getattr(self, ours) for ours, theirs in BERT_CONFIG_KEYS.items()
        }
        settings["layer_norm_eps"] = BORT_LAYER_NORM_EPS
        settings.update(overrides)
        return BertConfig(**settings)

    @classmethod
    def from_bert_config(cls, config: Any) -> Architecture:
        """Read the shape and context back from a BERT-like config: an object or a dict."""
        values = config if isinstance(config, dict) else config.to_dict()
        missing = [theirs for theirs in BERT_CONFIG_KEYS.values() if theirs not in values]
        if missing:
            raise ArchitectureError(f"not a BERT config: missing {', '.join(missing)}")
        return cls(**{ours: values[theirs] for ours, theirs in BERT_CONFIG_KEYS.items()})


#: Bort (de Wynter & Perry 2020): 4 layers, 8 heads, hidden 1024, intermediate 768.
BORT = Architecture(depth=4, heads=8, hidden=1024, intermediate=768)
#: The second released Bort shape, bort_2_16_512_1024.
BORT_2_16_512_1024 = Architecture(depth=2, heads=16, hidden=1024, intermediate=512)
#: BERT-large's shape in Bort's context: the maximum point T of the bert-large space.
BERT_LARGE = Architecture(depth=24, heads=16, hidden=1024, intermediate=4096)
BERT_BASE = Architecture(depth=12, heads=12, hidden=768, intermediate=3072)


# Exact parameter count of transformers' `BertModel` (with pooler), in closed form. Why closed
# form: the whole space must be scored in milliseconds, without allocating a single weight. The
# formula (checked in the tests against `sum(p.numel() for p in BertModel(config).parameters())`):
#   embeddings  (V + P + T)·H + 2H   (word, position, token-type tables; LayerNorm)
#   each layer  4H² + 2HI + 9H + I   (Q, K, V, output projections with biases, two LayerNorms,
#                                     the feed-forward pair with biases)
#   pooler      H² + H
# The number of heads A does not enter: heads split H, they do not add weights.


@dataclass(frozen=True)
class ParameterCount:
    """Total parameters, and the part outside the embedding tables."""

    total: int
    embeddings: int
    encoder: int
    pooler: int

    @property
    def without_embeddings(self) -> int:
        return self.total - self.embeddings


def count_parameters(architecture: Architecture) -> ParameterCount:
    """Exact parameter count of `BertModel(architecture.to_bert_config())`, pooler included."""
    h = architecture.hidden
    i = architecture.intermediate
    embeddings = (
        architecture.vocab_size + architecture.max_positions + architecture.type_vocab_size
    ) * h + 2 * h
    encoder = architecture.depth * (4 * h * h + 2 * h * i + 9 * h + i)
    pooler = h * h + h
    return ParameterCount(
        total=embeddings + encoder + pooler, embeddings=embeddings, encoder=encoder, pooler=pooler
    )
