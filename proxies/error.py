"""The error proxy ê(ξ): held-out distillation loss after a short, fixed, seeded training budget.

Why this surrogate: de Wynter's algorithm (arXiv 2010.08512) trains every candidate for s steps
under every θ of Θ with a bounded, Lipschitz loss and divides by the resulting error, so ê must
be on a ratio scale. By default each width-scaled student learns to reproduce all-MiniLM-L6-v2's
sentence embeddings of real text through a linear head; its error is the held-out mean of
`1 - cos(student, teacher)`: 0 means "matches the teacher", there is no constant offset, and the
loss lies in [0, 2] (bounded, 1-Lipschitz in the normalised output; clamped per example anyway).
W needs ê > 0, so the search floors it at `ERROR_FLOOR` (`bortnas.wcoefficient`).

The R students of one candidate (every θ times every seed) train together in one vectorised pass
(`bortnas.proxies.student`); the candidate's ê is the best θ's mean over seeds, and every θ's
value is kept in the measurement's details. Why each default holds, with the measurements behind
it, and the variants that lost: `docs/error-proxy.md`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bortnas.errors import BortnasError, DataError
from bortnas.proxies.base import Measurement, Proxy
from bortnas.proxies.corpus import Corpus, load_corpus
from bortnas.proxies.student import (
    ReplicaAdamW,
    StudentShape,
    encode,
    initial_weights,
    masked_lm_logits,
    pooled_prediction,
)
from bortnas.proxies.teacher import EmbeddingStore, Teacher, load_teacher
from bortnas.proxies.tokenizer import StudentTokenizer, load_tokenizer, train_tokenizer

if TYPE_CHECKING:
    import torch

    from bortnas.architecture import Architecture

VERSION = 3
EVAL_MASK_SEED = 1234
SCHEDULES = ("linear", "constant")

DEFAULT_STEPS = 100
DEFAULT_BATCH_SIZE = 16
DEFAULT_SEQUENCE_LENGTH = 16
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_WARMUP = 0.1
DEFAULT_WEIGHT_DECAY = 0.01
DEFAULT_WIDTH_SCALE = 16
DEFAULT_EVAL_SIZE = 128
DEFAULT_TARGET_COMPONENTS = 16
TARGET_FIT_DOCS = 2048


class ProxySettingError(BortnasError, ValueError):
    """An error-proxy knob out of range (a user mistake: the CLI prints one line)."""


@dataclass(frozen=True)
class TrainingSetting:
    """One θ of the search's Θ: how a student is trained (the budget s is the proxy's `steps`)."""

    learning_rate: float = DEFAULT_LEARNING_RATE
    batch_size: int = DEFAULT_BATCH_SIZE
    warmup: float = DEFAULT_WARMUP
    weight_decay: float = DEFAULT_WEIGHT_DECAY

    def __post_init__(self) -> None:
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ProxySettingError(f"θ learning rate must be positive, got {self.learning_rate}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise ProxySettingError(f"θ batch size must be a whole number, got {self.batch_size}")
        if self.batch_size < 1:
            raise ProxySettingError(f"θ batch size must be positive, got {self.batch_size}")
        if not 0 <= self.warmup < 1:
            raise ProxySettingError(f"θ warm-up must be in [0, 1), got {self.warmup}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ProxySettingError(f"θ weight decay must be >= 0, got {self.weight_decay}")

    @property
    def label(self) -> str:
        return f"lr={self.learning_rate:g} b={self.batch_size}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The search's default Θ: three learning rates around the proxy's former single rate (1e-3).
#: Deep post-LN students need the smaller steps; shallow ones gain from the larger.
DEFAULT_THETA: tuple[TrainingSetting, ...] = tuple(
    TrainingSetting(learning_rate=rate) for rate in (3e-4, 1e-3, 3e-3)
)


def scaled_width(architecture: Architecture, width_scale: float) -> tuple[int, int]:
    """(H', I') of the width-scaled student: D and A kept, H' = ceil(H/w/A)·A, I' = round(I/w).

    No head-size floor: a floor merged the A = 16 students of H 512, 768 and 1024 into one.
    """
    heads = architecture.heads
    head = math.ceil(architecture.hidden / width_scale / heads)
    return head * heads, max(1, round(architecture.intermediate / width_scale))


def resolve_training_device(device: str) -> str:
    """cpu, cuda or auto (CUDA when torch sees a GPU, else the CPU): one rule for every proxy."""
    from bortnas.proxies.latency import LatencyError, resolve_device

    try:
        return resolve_device(device)
    except LatencyError as exc:
        raise ProxySettingError(str(exc)) from None


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
    }


class DistillationErrorProxy(Proxy):
    """Surrogate error: held-out distillation loss after `steps` steps; best θ, mean of seeds."""

    name = "error"
    unit = "loss"
    cost = "trains width-scaled copies of the candidate, one per θ and seed, in one pass (~1 s)"

    def __init__(
        self,
        *,
        steps: int = DEFAULT_STEPS,
        theta: Sequence[TrainingSetting] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        warmup: float = DEFAULT_WARMUP,
        weight_decay: float = DEFAULT_WEIGHT_DECAY,
        sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
        schedule: str = "linear",
        max_grad_norm: float | None = None,
        initializer_range: float = 0.02,
        width_scale: float = DEFAULT_WIDTH_SCALE,
        seeds: int = 1,
        corpus: str | Path | Corpus | None = None,
        teacher: str | Path | Teacher | None = None,
        tokenizer: str | Path | StudentTokenizer | None = None,
        vocab_size: int = 8192,
        eval_size: int = DEFAULT_EVAL_SIZE,
        mask_probability: float = 0.15,
        temperature: float = 2.0,
        target_components: int | None = DEFAULT_TARGET_COMPONENTS,
        threads: int | None = 1,
        device: str = "cpu",
    ) -> None:
        """`theta` is Θ; without it, Θ is the single θ of `learning_rate`, `batch_size`,
        `warmup` and `weight_decay`. `device` (cpu, cuda, auto) is where students train; it is
        recorded per measurement, not part of the value's identity."""
        for label, value, low in (
            ("steps", steps, 0),
            ("seeds", seeds, 1),
            ("eval_size", eval_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ProxySettingError(f"{label} must be a whole number >= {low}, got {value!r}")
        if sequence_length < 3:
            raise ProxySettingError("sequence_length must be at least 3 (two special tokens)")
        if width_scale < 1:
            raise ProxySettingError(f"width_scale must be at least 1, got {width_scale}")
        if schedule not in SCHEDULES:
            raise ProxySettingError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if theta is None:
            theta = (TrainingSetting(learning_rate, batch_size, warmup, weight_decay),)
        self.theta: tuple[TrainingSetting, ...] = tuple(dict.fromkeys(theta))
        if not self.theta:
            raise ProxySettingError("Θ is empty: give at least one training setting")
        self.steps, self.sequence_length, self.schedule = steps, sequence_length, schedule
        self.width_scale, self.seeds = width_scale, seeds
        self.vocab_size, self.eval_size = vocab_size, eval_size
        self.target_components = target_components
        self.max_grad_norm = max_grad_norm
        self.initializer_range = initializer_range
        self.mask_probability, self.temperature = mask_probability, temperature
        self.threads = threads
        self.device = resolve_training_device(device)
        # Check the user's paths now, so a typo fails before any work.
        if isinstance(corpus, (str, Path)) and not Path(corpus).expanduser().exists():
            raise DataError(f"{corpus}: corpus not found (give a text file or a folder of .txt)")
        self._corpus_spec = corpus
        self.teacher = teacher if isinstance(teacher, Teacher) else load_teacher(teacher)
        if isinstance(tokenizer, (str, Path)):
            tokenizer = load_tokenizer(tokenizer)
        self._tokenizer: StudentTokenizer | None = tokenizer
        self._corpus: Corpus | None = corpus if isinstance(corpus, Corpus) else None
        self._data: dict[str, Any] | None = None
        self._provenance: dict[str, Any] | None = None

    # --- set-up, shared by every candidate ------------------------------------------------

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self._corpus_spec)  # type: ignore[arg-type]
        return self._corpus

    @property
    def tokenizer(self) -> StudentTokenizer:
        if self._tokenizer is None:
            self._tokenizer = train_tokenizer(self.corpus, vocab_size=self.vocab_size)
        return self._tokenizer

    @property
    def mode(self) -> str:
        if self.teacher is None:
            return "mlm"
        if self.teacher.has_masked_lm_head and self.teacher.vocabulary() == (
            self.tokenizer.vocabulary()
        ):
            return "logits"
        return "embeddings"

    def provenance(self) -> dict[str, Any]:
        if self._provenance is None:
            mode = self.mode
            knobs: dict[str, Any] = {
                "version": VERSION,
                "mode": mode,
                "steps": self.steps,
                "theta": [setting.to_dict() for setting in self.theta],
                "sequence_length": self.sequence_length,
                "schedule": self.schedule,
                "optimizer": "AdamW",
                "max_grad_norm": self.max_grad_norm,
                "initializer_range": self.initializer_range,
                "width_scale": self.width_scale,
                "targets": "teacher embeddings centred on the training pool mean",
                "target_components": self.target_components,
                "target_fit_docs": TARGET_FIT_DOCS,
                "head_size": "H/A divided by width_scale, rounded up",
                "seeds": list(range(self.seeds)),
                "eval_size": self.eval_size,
                "loss_clip": self._clip(),
                "corpus": self.corpus.id,
                "corpus_source": self.corpus.source,
                "tokenizer": self.tokenizer.id,
                "tokenizer_source": self.tokenizer.source,
                "teacher": self.teacher.id if self.teacher is not None else "none",
                "libraries": _versions(),
            }
            if mode != "embeddings":
                knobs["mask_probability"] = self.mask_probability
            if mode == "logits":
                knobs["temperature"] = self.temperature
            self._provenance = knobs
        return self._provenance

    def _clip(self) -> float:
        return 2.0 if self.mode == "embeddings" else 2.0 * math.log(self.tokenizer.vocab_size)

    def _documents(self, split: tuple[str, ...], count: int) -> tuple[list[int], list[str]]:
        if not split:
            raise DataError(f"{self.corpus.source}: corpus split is empty")
        indices = [i % len(split) for i in range(count)]
        return indices, [split[i] for i in indices]

    def prepare(self) -> dict[str, Any]:
        """Tokenise the documents used and fetch their teacher targets, once per proxy."""
        if self._data is not None:
            return self._data
        import torch

        started = time.perf_counter()
        tokenizer = self.tokenizer
        length = self.sequence_length
        data: dict[str, Any] = {}
        pool = max(1, self.steps * max(setting.batch_size for setting in self.theta))
        splits = [
            ("train", self.corpus.train, pool),
            ("held", self.corpus.held_out, self.eval_size),
        ]
        store = None
        if self.mode == "embeddings":
            # The documents that fix the target basis, for any budget.
            splits.append(("fit", self.corpus.train, min(TARGET_FIT_DOCS, len(self.corpus.train))))
            # One store per set-up: opening it reads every cached row.
            assert self.teacher is not None
            store = EmbeddingStore(self.teacher, f"{self.corpus.id}|{tokenizer.id}|{length}")
        for split_name, split, count in splits:
            indices, texts = self._documents(split, count)
            ids = tokenizer.encode(texts, length)
            padded = torch.full((len(ids), length), tokenizer.pad_id, dtype=torch.long)
            for row, sequence in enumerate(ids):
                padded[row, : len(sequence)] = torch.tensor(sequence)
            lengths = torch.tensor([len(s) for s in ids])
            entry: dict[str, Any] = {"ids": padded, "lengths": lengths}
            if store is not None:
                keys = [f"{'held' if split_name == 'held' else 'train'}:{i}" for i in indices]
                # The teacher sees exactly the text the student sees (after truncation).
                seen = [tokenizer.decode(s).strip() for s in ids]
                entry["targets"] = torch.from_numpy(store.get(keys, seen))
            data[split_name] = entry
        if self.mode == "embeddings":
            # Centred (else every student first learns the shared mean direction and all tie),
            # then the leading principal directions: the content a short budget learns first.
            # Fitted on a fixed set of documents, so every budget is scored on the same targets.
            pool_targets = data.pop("fit")["targets"]
            centre = pool_targets.mean(0, keepdim=True)
            components = None
            if self.target_components and self.target_components < pool_targets.shape[1]:
                _, _, vh = torch.linalg.svd(pool_targets - centre, full_matrices=False)
                components = vh[: self.target_components].T
            for entry in (data["train"], data["held"]):
                centred = entry["targets"] - centre
                if components is not None:
                    centred = centred @ components
                entry["targets"] = torch.nn.functional.normalize(centred, dim=-1)
            data["target_dim"] = data["train"]["targets"].shape[1]
        for split_name in ("train", "held"):
            data[split_name] = {k: v.to(self.device) for k, v in data[split_name].items()}
        data["setup_seconds"] = time.perf_counter() - started
        self._data = data
        return data

    # --- one candidate: every θ and seed in as few vectorised passes as batch sizes ---------

    def evaluate(self, architecture: Architecture) -> Measurement:
        import torch

        data = self.prepare()
        previous_threads = torch.get_num_threads()
        previous_deterministic = torch.are_deterministic_algorithms_enabled()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True, warn_only=self.device != "cpu")
        try:
            started = time.perf_counter()
            values = self.train_replicas(architecture, self.theta, range(self.seeds), data)
            seconds = time.perf_counter() - started
        finally:
            torch.use_deterministic_algorithms(previous_deterministic)
            torch.set_num_threads(previous_threads)
        per_theta = [
            {**setting.to_dict(), "value": float(np.mean(row)), "per_seed": [float(v) for v in row]}
            for setting, row in zip(self.theta, values, strict=True)
        ]
        best = min(range(len(per_theta)), key=lambda k: per_theta[k]["value"])
        hidden, intermediate = scaled_width(architecture, self.width_scale)
        replicas = len(self.theta) * self.seeds
        details = {
            "training_steps": self.steps * replicas,
            "replicas": replicas,
            "per_theta": per_theta,
            "theta_best": best,
            "per_seed": per_theta[best]["per_seed"],
            "train_seconds": seconds,
            "steps_per_second": self.steps * replicas / seconds if seconds > 0 else None,
            "student": {
                "depth": architecture.depth,
                "heads": architecture.heads,
                "hidden": hidden,
                "intermediate": intermediate,
            },
            "setup_seconds": data["setup_seconds"],
            "device": self.device,
            "threads": torch.get_num_threads() if self.threads is None else self.threads,
        }
        seeds = per_theta[best]["per_seed"]
        return Measurement(
            proxy=self.name,
            value=per_theta[best]["value"],
            unit=self.unit,
            spread=float(np.std(seeds, ddof=1)) if len(seeds) > 1 else None,
            details=details,
            provenance=self.provenance(),
        )

    def train_replicas(
        self,
        architecture: Architecture,
        theta: Sequence[TrainingSetting],
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

    def _lr_factors(self, settings: Sequence[TrainingSetting], step: int) -> list[float]:
        """Linear warm-up then linear decay to 0 (or constant), per replica."""
        if self.schedule == "constant":
            return [1.0] * len(settings)
        factors = []
        for setting in settings:
            warm = max(1, round(setting.warmup * self.steps))
            if step < warm:
                factors.append((step + 1) / warm)
            else:
                factors.append(max(0.0, (self.steps - step) / max(1, self.steps - warm)))
        return factors

    def _train_pass(
        self,
        architecture: Architecture,
        settings: list[TrainingSetting],
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
            return losses.clamp(0.0, self._clip()).mean(1)
        masked, chosen = self._mask(ids, generators)
        hidden = encode(shape, weights, masked, attention)
        replicas = ids.shape[0]
        logits = masked_lm_logits(shape, weights, hidden.reshape(replicas, -1, shape.hidden))
        flat_chosen = chosen.reshape(replicas, -1)
        labels = ids.reshape(replicas, -1)
        losses = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
        if self.mode == "logits":
            assert self.teacher is not None
            with torch.no_grad():
                teacher = self.teacher.masked_lm(
                    input_ids=masked.flatten(0, 1), attention_mask=attention.flatten(0, 1)
                ).logits[..., : logits.shape[-1]]
            t = self.temperature
            kl = F.kl_div(
                F.log_softmax(logits / t, -1),
                F.log_softmax(teacher.reshape(replicas, -1, logits.shape[-1]) / t, -1),
                reduction="none",
                log_target=True,
            ).sum(-1)
            losses = 0.5 * losses + 0.5 * t * t * kl
        weights_of = flat_chosen.to(losses.dtype)
        clipped = losses.clamp(0.0, self._clip()) * weights_of
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
