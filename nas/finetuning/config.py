"""The settings of an Agora (or plain fine-tuning) run: one frozen, keyword-only dataclass.

Why a dataclass: the run's identity (`state.json`, which decides whether a folder resumes) is
built from it field by field, so no setting is copied by hand; each field's `help` documents it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.theta import Hyperparameters
from .theta import DEFAULT_THETA


def _help(text: str) -> dict[str, Any]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class AgoraConfig:
    """The settings of one fine-tuning run (Agora or the plain baseline), field by field.

    Everything here goes into the run's identity (`state.json`), so a changed setting never
    resumes another run's folder. The data, the teacher, the output folder and the progress
    display are not settings: they are passed beside the config.
    """

    algorithm: str = field(default="agora", metadata=_help("agora, or plain (the baseline)"))
    thetas: tuple[Hyperparameters, ...] = field(
        default=tuple(DEFAULT_THETA),
        metadata=_help("Θ: the hyper-parameter configurations tried (duplicates are dropped)"),
    )
    num_labels: int = field(default=2, metadata=_help("number of classes of the task"))
    generators: tuple[str, ...] = field(
        default=("synonym", "deletion"),
        metadata=_help(
            "data generators (`bortnas.finetuning.augment`), cycled; () = Θ pruning alone"
        ),
    )
    per_mistake: int = field(default=4, metadata=_help("new texts generated per mistake"))
    prune: str = field(default="halving", metadata=_help("Θ pruning rule (`theta`)"))
    patience: int | None = field(
        default=2, metadata=_help("stop after this many rounds without a better eval accuracy")
    )
    replay_rounds: int = field(
        default=0, metadata=_help("extra rounds once Θ is down to one θ (the paper's replay)")
    )
    mistakes_from: str = field(
        default="eval", metadata=_help("split whose mistakes seed new data: eval or train")
    )
    min_confidence: float = field(
        default=0.0, metadata=_help("drop generated texts the teacher labels less surely")
    )
    min_teacher_accuracy: float = field(
        default=2 / 3, metadata=_help("eval accuracy the teacher must reach (the paper's 2/3)")
    )
    warm_start: bool = field(
        default=False, metadata=_help("start each round from the best student, not from scratch")
    )
    seed: int = field(default=0, metadata=_help("run seed (student init, data order, generators)"))
    max_length: int = field(default=64, metadata=_help("tokens per text, longer ones are cut"))
    vocab_size: int = field(
        default=2048, metadata=_help("size of the student's BPE, trained on the train split")
    )
    total_steps: int | None = field(
        default=None, metadata=_help("training steps per θ; None = θ's epochs")
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "thetas", tuple(self.thetas))
        object.__setattr__(self, "generators", tuple(self.generators))


#: The settings recorded in a run's identity as they are (Θ and the algorithm are recorded apart).
IDENTITY_FIELDS = (
    "num_labels",
    "generators",
    "per_mistake",
    "prune",
    "patience",
    "replay_rounds",
    "mistakes_from",
    "min_confidence",
    "warm_start",
    "seed",
    "max_length",
    "vocab_size",
    "total_steps",
)
