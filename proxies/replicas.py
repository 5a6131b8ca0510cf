"""Training the (θ, seed) students of one candidate together, and scoring them on held-out text.

Why a separate trainer: the error proxy prepares data once for every candidate (corpus,
tokenizer, teacher targets); training is the per-candidate part, and it needs only the few knobs
named here. Students whose θ share a batch size form one pass; each replica draws its weights,
document order and masks from its own seed, so its value does not depend on its pass-mates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bortnas.core.schedule import linear_warmup_decay
from bortnas.core.theta import Hyperparameters

from .student import (
    ReplicaAdamW,
    StudentShape,
    encode,
    initial_weights,
    masked_lm_logits,
    pooled_prediction,
)
from .training import EVAL_MASK_SEED, scaled_width

if TYPE_CHECKING:
    import torch

    from bortnas.core.architecture import Architecture
    from bortnas.text.tokenizer import StudentTokenizer

    from .teacher import EmbeddingTeacher


def softened_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(teacher ‖ student) of the logits' softmax at temperature T, per position (summed
    over the last axis): the distillation term of Bort's recipe (Hinton et al.'s softened KL)."""
    import torch.nn.functional as F

    t = temperature
    kl = F.kl_div(
        F.log_softmax(student / t, -1),
        F.log_softmax(teacher / t, -1),
        reduction="none",
        log_target=True,
    )
    return t * t * kl.sum(-1)


@dataclass(frozen=True)
class ReplicaTrainer:
    """The knobs of one candidate's training: budget, schedule, student width, loss and device."""

    steps: int
    schedule: str
    sequence_length: int
    width_scale: float
    initializer_range: float
    max_grad_norm: float | None
    mode: str
    tokenizer: StudentTokenizer
    clip: float
    mask_probability: float
    temperature: float
    teacher: EmbeddingTeacher | None
    device: str

    def train(
        self,
        architecture: Architecture,
        theta: Sequence[Hyperparameters],
        seeds: Sequence[int],
        data: dict[str, Any],
    ) -> np.ndarray:
        """Held-out error of every (θ, seed) student, shape [|Θ|, |seeds|].

        Students whose θ share a batch size train in one vectorised pass; replica (θ, seed) draws
        its weights, document order and masks from `seed` alone, so a student's value does not
        depend on which others share its pass (tested, within float tolerance).
        """
        errors = np.zeros((len(theta), len(seeds)))
        for batch_size in dict.fromkeys(setting.batch_size for setting in theta):
            members = [k for k, setting in enumerate(theta) if setting.batch_size == batch_size]
            replicas = [(k, seed) for k in members for seed in seeds]
            held = self._train_pass(
                architecture,
                [theta[k] for k, _ in replicas],
                [seed for _, seed in replicas],
                batch_size,
                data,
            )
            for (k, seed_index), value in zip(
                [(k, j) for k in members for j in range(len(seeds))], held, strict=True
            ):
                errors[k, seed_index] = value
        return errors

    def _shape(self, architecture: Architecture, data: dict[str, Any]) -> StudentShape:
        hidden, intermediate = scaled_width(architecture, self.width_scale)
        return StudentShape(
            depth=architecture.depth,
            heads=architecture.heads,
            hidden=hidden,
            intermediate=intermediate,
            vocab_size=self.tokenizer.vocab_size,
            max_positions=self.sequence_length,
            target_dim=data.get("target_dim", 0) if self.mode == "embeddings" else 0,
        )

    def _lr_factors(self, settings: Sequence[Hyperparameters], step: int) -> list[float]:
        """Linear warm-up then linear decay to 0 (or constant), per replica."""
        if self.schedule == "constant":
            return [1.0] * len(settings)
        return [linear_warmup_decay(step, self.steps, setting.warmup) for setting in settings]

    def _train_pass(
        self,
        architecture: Architecture,
        settings: list[Hyperparameters],
        seeds: list[int],
        batch_size: int,
        data: dict[str, Any],
    ) -> list[float]:
        import torch

        shape = self._shape(architecture, data)
        device = self.device
        with torch.random.fork_rng(devices=[]):
            weights = initial_weights(
                shape,
                seeds,
                initializer_range=self.initializer_range,
                pad_id=self.tokenizer.pad_id,
                device=device,
            )
            leaves = [w.requires_grad_(True) for w in weights.values()]
            optimizer = ReplicaAdamW(
                leaves,
                learning_rates=[s.learning_rate for s in settings],
                weight_decays=[s.weight_decay for s in settings],
            )
            generators = [torch.Generator().manual_seed(seed) for seed in seeds]
            train = data["train"]
            # Each replica draws its order over its own θ's documents (the first s x batch), so
            # its value does not depend on which other θ share the set-up.
            pool = max(1, min(len(train["ids"]), self.steps * batch_size))
            orders = [torch.randperm(pool, generator=g) for g in generators]
            for step in range(self.steps):
                start = (step * batch_size) % len(orders[0])
                rows = torch.stack([order[start : start + batch_size] for order in orders])
                losses = self._losses(shape, weights, train, rows, generators)
                for leaf in leaves:
                    leaf.grad = None
                losses.sum().backward()
                if self.max_grad_norm:
                    norms = torch.stack([leaf.grad.flatten(1).norm(dim=1) for leaf in leaves])
                    scale = (self.max_grad_norm / (norms.norm(dim=0) + 1e-6)).clamp(max=1.0)
                    for leaf in leaves:
                        leaf.grad.mul_(scale.view((-1,) + (1,) * (leaf.dim() - 1)))
                optimizer.step(self._lr_factors(settings, step))
            frozen = {name: w.detach() for name, w in weights.items()}
            return self._held_out(shape, frozen, data["held"])

    def _batch(self, split: dict[str, Any], rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """ids/attention [R, B, L'] (L' the longest row of the pass), targets [R, B, T]."""
        import torch

        rows = rows.to(split["ids"].device)
        width = int(split["lengths"][rows].max())
        ids = split["ids"][rows, :width]
        positions = torch.arange(width, device=ids.device)
        attention = (positions < split["lengths"][rows].unsqueeze(-1)).long()
        batch = {"ids": ids, "attention": attention}
        if "targets" in split:
            batch["targets"] = split["targets"][rows]
        return batch

    def _mask(self, ids: torch.Tensor, generators: list[torch.Generator]) -> tuple[Any, Any]:
        """Masked-LM corruption per replica, each from its own generator."""
        import torch

        special = torch.tensor(
            [self.tokenizer.pad_id, self.tokenizer.cls_id, self.tokenizer.sep_id],
            device=ids.device,
        )
        candidates = ~torch.isin(ids, special)
        draws = torch.stack([torch.rand(ids.shape[1:], generator=g) for g in generators])
        chosen = (draws.to(ids.device) < self.mask_probability) & candidates
        # At least one masked token per replica and batch.
        first = candidates & (candidates.flatten(1).cumsum(1).view_as(candidates) == 1)
        empty = ~chosen.flatten(1).any(1)
        chosen = torch.where(empty.view(-1, 1, 1), first, chosen)
        return ids.masked_fill(chosen, self.tokenizer.mask_id), chosen

    def _losses(
        self,
        shape: StudentShape,
        weights: dict[str, torch.Tensor],
        split: dict[str, Any],
        rows: torch.Tensor,
        generators: list[torch.Generator],
    ) -> torch.Tensor:
        """Mean loss of each replica's batch, [R]; every example clamped to [0, clip]."""
        import torch
        import torch.nn.functional as F

        batch = self._batch(split, rows)
        ids, attention = batch["ids"], batch["attention"]
        if self.mode == "embeddings":
            prediction = pooled_prediction(shape, weights, ids, attention)
            losses = 1.0 - F.cosine_similarity(prediction, batch["targets"], dim=-1)
            return losses.clamp(0.0, self.clip).mean(1)
        masked, chosen = self._mask(ids, generators)
        hidden = encode(shape, weights, masked, attention)
        replicas = ids.shape[0]
        # The head (a V-wide matmul, the step's largest) runs on the masked positions only:
        # each replica's masked positions first, padded to the largest count, `valid` marks them.
        positions, valid = masked_positions(chosen.reshape(replicas, -1))
        picked = hidden.reshape(replicas, -1, shape.hidden).gather(
            1, positions.unsqueeze(-1).expand(-1, -1, shape.hidden)
        )
        logits = masked_lm_logits(shape, weights, picked)
        labels = ids.reshape(replicas, -1).gather(1, positions)
        losses = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
        if self.mode == "logits":
            assert self.teacher is not None
            with torch.no_grad():
                teacher = self.teacher.masked_lm(
                    input_ids=masked.flatten(0, 1), attention_mask=attention.flatten(0, 1)
                ).logits[..., : logits.shape[-1]]
            teacher = teacher.reshape(replicas, -1, logits.shape[-1]).gather(
                1, positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1])
            )
            losses = 0.5 * losses + 0.5 * softened_kl(logits, teacher, self.temperature)
        weights_of = valid.to(losses.dtype)
        clipped = losses.clamp(0.0, self.clip) * weights_of
        return clipped.sum(1) / weights_of.sum(1)

    def _held_out(
        self, shape: StudentShape, views: dict[str, torch.Tensor], held: dict[str, Any]
    ) -> list[float]:
        """Held-out error of every replica on the same documents and the same masks."""
        import torch

        replicas = views["word"].shape[0]
        totals = torch.zeros(replicas, dtype=torch.float64)
        count = 0
        # One generator per replica, all seeded alike: every replica sees the same masks.
        generators = [torch.Generator().manual_seed(EVAL_MASK_SEED) for _ in range(replicas)]
        with torch.inference_mode():
            for start in range(0, len(held["ids"]), 64):
                rows = torch.arange(start, min(start + 64, len(held["ids"])))
                shared = rows.unsqueeze(0).expand(replicas, -1)
                size = len(rows)
                mean = self._losses(shape, views, held, shared, generators)
                totals += mean.double().cpu() * size
                count += size
        return (totals / max(count, 1)).tolist()


def masked_positions(chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices [R, M] of each replica's chosen (masked) positions, in order, padded to the
    largest count M with unchosen positions; and [R, M] `valid`, True where a position is chosen.
    """
    import torch

    width = max(1, int(chosen.sum(1).max()))
    order = torch.argsort((~chosen).to(torch.int8), dim=1, stable=True)[:, :width]
    return order, chosen.gather(1, order)
