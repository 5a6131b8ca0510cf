"""The error proxy ê(ξ): held-out distillation loss after a short, fixed, seeded training budget.

Why this surrogate: de Wynter's algorithm (arXiv 2010.08512) trains every candidate for s steps
under every θ of Θ with a bounded, Lipschitz loss and divides by the resulting error, so ê must
be on a ratio scale. By default each width-scaled student learns to reproduce all-MiniLM-L6-v2's
sentence embeddings of real text through a linear head; its error is the held-out mean of
`1 - cos(student, teacher)`: 0 means "matches the teacher", there is no constant offset, and the
loss lies in [0, 2] (bounded, 1-Lipschitz in the normalised output; clamped per example anyway).
W needs ê > 0, so the search floors it at `ERROR_FLOOR` (`bortnas.extraction.wcoefficient`).

The R students of one candidate (every θ times every seed) train together in one vectorised pass
(`bortnas.proxies.student`); the candidate's ê is the best θ's mean over seeds, and every θ's
value is kept in the measurement's details. Defaults, measured against a 10x longer, 8x wider
reference (Spearman of ê over 24 shapes): best over Θ, not one θ (+0.37); one seed, because
the search's error model (`bortnas.extraction.error_model`, a fit of ê over the whole space)
lifts one seed to 0.80 on average, above four raw seeds (0.78) at a quarter of the cost; 16
target components, since 8 and 64 could not be told apart from 16.
The log, and the variants that lost: `docs/error-proxy.md`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bortnas.core.device import resolve_device
from bortnas.core.errors import DataError
from bortnas.core.theta import SEARCH_FIELDS, Hyperparameters
from bortnas.text.corpus import Corpus, load_corpus
from bortnas.text.tokenizer import StudentTokenizer, load_tokenizer, train_tokenizer

from .base import Measurement, Proxy
from .replicas import ReplicaTrainer
from .teacher import EmbeddingStore, EmbeddingTeacher, load_embedding_teacher
from .training import (
    DEFAULT_EVAL_SIZE,
    DEFAULT_SEQUENCE_LENGTH,
    DEFAULT_STEPS,
    DEFAULT_TARGET_COMPONENTS,
    DEFAULT_THETA,
    DEFAULT_WIDTH_SCALE,
    SCHEDULES,
    TARGET_FIT_DOCS,
    VERSION,
    ProxySettingError,
    check_error_loss,
    scaled_width,
)

if TYPE_CHECKING:
    from bortnas.core.architecture import Architecture


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
        theta: Sequence[Hyperparameters] = DEFAULT_THETA,
        sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
        schedule: str = "linear",
        max_grad_norm: float | None = None,
        initializer_range: float = 0.02,
        width_scale: float = DEFAULT_WIDTH_SCALE,
        seeds: int = 1,
        corpus: str | Path | Corpus | None = None,
        teacher: str | Path | EmbeddingTeacher | None = None,
        tokenizer: str | Path | StudentTokenizer | None = None,
        vocab_size: int = 8192,
        eval_size: int = DEFAULT_EVAL_SIZE,
        mask_probability: float = 0.15,
        temperature: float = 2.0,
        target_components: int | None = DEFAULT_TARGET_COMPONENTS,
        threads: int | None = 1,
        device: str = "cpu",
        error_loss: str = "distillation",
    ) -> None:
        """`theta` is Θ (the search's default: two learning rates; one `Hyperparameters` for a
        single θ). `device` (cpu, cuda, auto) is where students train; it is recorded per
        measurement, not part of the value's identity. `error_loss`: one of `ERROR_LOSSES`."""
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
        self.error_loss = check_error_loss(error_loss, teacher)
        self.theta: tuple[Hyperparameters, ...] = tuple(dict.fromkeys(theta))
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
        self.device = resolve_device(device)
        # Check the user's paths now, so a typo fails before any work.
        if isinstance(corpus, (str, Path)) and not Path(corpus).expanduser().exists():
            raise DataError(f"{corpus}: corpus not found (give a text file or a folder of .txt)")
        self._corpus_spec = corpus
        if error_loss != "mlm" and not isinstance(teacher, EmbeddingTeacher):
            teacher = load_embedding_teacher(teacher, device=self.device)
        self.teacher = None if error_loss == "mlm" else teacher
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
                "theta": [setting.to_dict(SEARCH_FIELDS) for setting in self.theta],
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
            if self.error_loss != "distillation":  # only when not the default: same cache keys
                knobs["error_loss"] = self.error_loss
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
            values = self.trainer().train(architecture, self.theta, range(self.seeds), data)
            seconds = time.perf_counter() - started
        finally:
            torch.use_deterministic_algorithms(previous_deterministic)
            torch.set_num_threads(previous_threads)
        per_theta = [
            {
                **setting.to_dict(SEARCH_FIELDS),
                "value": float(np.mean(row)),
                "per_seed": [float(v) for v in row],
            }
            for setting, row in zip(self.theta, values, strict=True)
        ]
        finite = [k for k, entry in enumerate(per_theta) if math.isfinite(entry["value"])]
        if not finite:  # every θ diverged: a failed evaluation (retried, then recorded)
            raise FloatingPointError(f"{architecture.name}: every θ gave a non-finite error")
        best = min(finite, key=lambda k: per_theta[k]["value"])
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

    def trainer(self) -> ReplicaTrainer:
        return ReplicaTrainer(
            steps=self.steps,
            schedule=self.schedule,
            sequence_length=self.sequence_length,
            width_scale=self.width_scale,
            initializer_range=self.initializer_range,
            max_grad_norm=self.max_grad_norm,
            mode=self.mode,
            tokenizer=self.tokenizer,
            clip=self._clip(),
            mask_probability=self.mask_probability,
            temperature=self.temperature,
            teacher=self.teacher,
            device=self.device,
        )
