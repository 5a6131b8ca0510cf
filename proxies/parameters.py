"""The parameter proxy p(ξ): the exact closed-form count (`count_parameters`, which lives next
to `Architecture` so that spaces can filter by size without importing any proxy)."""

from __future__ import annotations

from bortnas.core.architecture import Architecture, count_parameters

from .base import Measurement, Proxy


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
