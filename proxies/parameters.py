"""Exact parameter count of transformers' `BertModel` (with pooler), in closed form.

Why closed form: the whole bert-large space must be scored in milliseconds, without allocating a
single weight. The formula (derived on paper, checked in the tests against
`sum(p.numel() for p in BertModel(config).parameters())`):
  embeddings  (V + P + T)·H + 2H          (word, position, token-type tables; LayerNorm)
  each layer  4H² + 2HI + 9H + I          (Q, K, V, output projections with biases, two
                                           LayerNorms, the feed-forward pair with biases)
  pooler      H² + H
The number of heads A does not enter: heads split H, they do not add weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from bortnas.architecture import Architecture
from bortnas.proxies.base import Measurement, Proxy


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


class ParameterProxy(Proxy):
    """The parameter-size proxy p(ξ) of the paper: exact, free.

    `include_embeddings` chooses which count is the objective; the other is kept in `details`.
    The default counts every parameter, as the paper's p does for a whole model.
    """

    name = "parameters"
    unit = "parameters"
    cost = "free: closed-form count, no model is built"

    def __init__(self, *, include_embeddings: bool = True) -> None:
        self.include_embeddings = include_embeddings

    def provenance(self) -> dict[str, object]:
        return {"include_embeddings": self.include_embeddings, "model": "transformers.BertModel"}

    def evaluate(self, architecture: Architecture) -> Measurement:
        count = count_parameters(architecture)
        value = count.total if self.include_embeddings else count.without_embeddings
        return Measurement(
            proxy=self.name,
            value=float(value),
            unit=self.unit,
            details={"total": count.total, "without_embeddings": count.without_embeddings},
            provenance=self.provenance(),
        )
