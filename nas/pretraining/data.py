"""Pretraining batches as a pure function of (seed, step): what makes resuming and sharding exact.

Why no iterator state: the documents of global step k are positions `k·B .. k·B+B-1` of an
endless stream of epochs, each epoch a permutation of the corpus drawn from (seed, epoch); the
masks of step k come from a generator seeded by (seed, step) and drawn for the whole global batch.
So a resumed run needs only the step number to see exactly the batches an uninterrupted run saw,
and K torchrun processes that each take one contiguous slice of the global batch see, between
them, exactly what one process sees. One document per row (cut to the sequence length), never
packed: the default teacher embeds each document, and row and document must stay one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ..text.tokenizer import StudentTokenizer

#: BERT's corruption of the chosen tokens: 80 % [MASK], 10 % a random token, 10 % unchanged.
MASK_SHARE, RANDOM_SHARE = 0.8, 0.1


@dataclass
class Batch:
    """One process's share of a global batch; `masked_total` counts the whole global batch."""

    ids: torch.Tensor  # [b, L] corrupted input
    attention: torch.Tensor  # [b, L]
    labels: torch.Tensor  # [b, L] original ids
    chosen: torch.Tensor  # [b, L] bool: the positions the masked-LM loss scores
    texts: list[str]  # what the student sees, decoded (the embedding teacher's input)
    tokens: int  # real (non-pad) tokens in this share


class BatchSource:
    """The batches of one run; `rank` of `world` takes rows `[rank·b, (rank+1)·b)` of each step."""

    def __init__(
        self,
        documents: tuple[str, ...],
        tokenizer: StudentTokenizer,
        *,
        batch_size: int,
        sequence_length: int,
        mask_probability: float,
        seed: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.documents, self.tokenizer = documents, tokenizer
        self.batch_size, self.length = batch_size, sequence_length
        self.mask_probability, self.seed = mask_probability, seed
        self.rank, self.world = rank, world
        self.local = batch_size // world
        self._orders: dict[int, list[int]] = {}

    def position(self, step: int) -> dict[str, int]:
        """Where the data stream stands before `step` (recorded in checkpoints)."""
        seen = step * self.batch_size
        return {"documents_seen": seen, "epoch": seen // len(self.documents)}

    def _order(self, epoch: int) -> list[int]:
        import torch

        if epoch not in self._orders:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            # Keep one epoch besides the new one: a batch spans at most two.
            kept = {e: o for e, o in self._orders.items() if e == epoch - 1}
            self._orders = {
                **kept,
                epoch: torch.randperm(len(self.documents), generator=generator).tolist(),
            }
        return self._orders[epoch]

    def rows(self, step: int) -> list[int]:
        """Document indices of the global batch of `step`."""
        count = len(self.documents)
        start = step * self.batch_size
        return [self._order(i // count)[i % count] for i in range(start, start + self.batch_size)]

    def batch(self, step: int) -> Batch:
        import torch

        tokenizer = self.tokenizer
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + 7_919 * step + 1)
        draws = torch.rand((self.batch_size, self.length), generator=generator)
        kinds = torch.rand((self.batch_size, self.length), generator=generator)
        randoms = torch.randint(
            tokenizer.vocab_size, (self.batch_size, self.length), generator=generator
        )
        share = slice(self.rank * self.local, (self.rank + 1) * self.local)
        rows = self.rows(step)[share]
        encoded = tokenizer.encode([self.documents[i] for i in rows], self.length)
        width = max(len(e) for e in encoded)
        labels = torch.full((len(rows), width), tokenizer.pad_id, dtype=torch.long)
        for row, sequence in enumerate(encoded):
            labels[row, : len(sequence)] = torch.tensor(sequence)
        attention = (labels != tokenizer.pad_id).long()
        for row, sequence in enumerate(encoded):  # a pad id inside a text still counts
            attention[row, : len(sequence)] = 1
        special = torch.tensor([tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id])
        candidates = ~torch.isin(labels, special) & attention.bool()
        chosen = (draws[share, :width] < self.mask_probability) & candidates
        # At least one scored token per document, so every row has a masked-LM term.
        first = candidates & (candidates.cumsum(1) == 1)
        chosen |= first & ~chosen.any(1, keepdim=True)
        kind = kinds[share, :width]
        ids = labels.clone()
        ids[chosen & (kind < MASK_SHARE)] = tokenizer.mask_id
        swap = chosen & (kind >= MASK_SHARE) & (kind < MASK_SHARE + RANDOM_SHARE)
        ids[swap] = randoms[share, :width][swap]
        texts = [tokenizer.decode(sequence).strip() for sequence in encoded]
        return Batch(ids, attention, labels, chosen, texts, int(attention.sum()))
