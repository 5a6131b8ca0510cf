"""The student being pretrained and its loss: masked LM plus what the teacher can give.

Why three modes (`distillation_mode`):
- `logits`: a teacher with a masked-LM head that shares the student's vocabulary gets Bort's
  recipe, `mlm_weight·MLM + distillation_weight·T²·KL(teacher ‖ student)` over the masked
  positions (the teacher sees the same corrupted input);
- `embeddings`: a teacher without such a head (the default all-MiniLM-L6-v2, WordPiece vocabulary)
  can only give its sentence embedding, so the student's mean-pooled last hidden state goes
  through a linear projection onto it and `1 - cos` is distilled, as the error proxy does;
- `mlm`: no teacher, masked LM alone.
The masked-LM head runs on the masked positions only (half the cost of a training step at a
50k vocabulary). Sums are returned, not means: the caller divides by the count over the *global*
batch, which is what makes K data-parallel processes equal one process with the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from bortnas.proxies.replicas import softened_kl

from .data import Batch

if TYPE_CHECKING:
    from bortnas.proxies.teacher import EmbeddingTeacher

    from ..text.tokenizer import StudentTokenizer

MODES = ("logits", "embeddings", "mlm")
#: How each mode is named in messages.
MODE_LABELS = {
    "logits": "Bort's recipe (masked LM + KL to the teacher's masked-LM logits)",
    "embeddings": "masked LM + distillation of the teacher's sentence embedding",
    "mlm": "masked LM alone (no teacher)",
}


def distillation_mode(teacher: EmbeddingTeacher | None, tokenizer: StudentTokenizer) -> str:
    """logits when the teacher has a masked-LM head and the student's vocabulary, else the rest."""
    if teacher is None:
        return "mlm"
    if teacher.has_masked_lm_head and teacher.vocabulary() == tokenizer.vocabulary():
        return "logits"
    return "embeddings"


class Distiller(torch.nn.Module):
    """A `BertForMaskedLM` student plus, in embedding mode, the projection onto the teacher."""

    def __init__(self, student: Any, teacher_dim: int = 0) -> None:
        super().__init__()
        self.student = student
        hidden = student.config.hidden_size
        self.projection = torch.nn.Linear(hidden, teacher_dim) if teacher_dim else None

    def forward(
        self, ids: torch.Tensor, attention: torch.Tensor, chosen: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(masked-LM logits at the chosen positions [M, V], projected sentence vector or None)."""
        hidden = self.student.bert(input_ids=ids, attention_mask=attention).last_hidden_state
        logits = self.student.cls(hidden[chosen])
        if self.projection is None:
            return logits, None
        weights = attention.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return logits, self.projection(pooled)


@dataclass(frozen=True)
class Objective:
    """The loss of one run: its mode, weights and temperature, and the teacher."""

    mode: str
    teacher: EmbeddingTeacher | None
    mlm_weight: float
    distillation_weight: float
    temperature: float

    def sums(
        self, model: torch.nn.Module, batch: Batch, device: torch.device, autocast: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked-LM cross-entropy summed over masked tokens, distillation loss summed over
        masked tokens (logits) or documents (embeddings); 0 without a teacher), float32."""
        ids, attention = batch.ids.to(device), batch.attention.to(device)
        chosen, labels = batch.chosen.to(device), batch.labels.to(device)
        with autocast:
            logits, projected = model(ids, attention, chosen)
        logits = logits.float()
        mlm = F.cross_entropy(logits, labels[chosen], reduction="sum")
        if self.mode == "mlm" or self.teacher is None:
            return mlm, torch.zeros((), device=device)
        if self.mode == "logits":
            with torch.no_grad():
                teacher = self.teacher.masked_lm(input_ids=ids, attention_mask=attention).logits
                teacher = teacher[chosen][:, : logits.shape[-1]].float()
            return mlm, softened_kl(logits, teacher, self.temperature).sum()
        targets = torch.from_numpy(self.teacher.embed(batch.texts)).to(device)
        assert projected is not None
        cosine = F.cosine_similarity(projected.float(), targets, dim=-1)
        return mlm, (1.0 - cosine).sum()

    def distillation_count(self, masked: int, documents: int) -> int:
        """What the distillation sum is averaged over: masked tokens (logits) or documents."""
        return masked if self.mode == "logits" else documents
