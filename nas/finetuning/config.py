"""The settings of a fine-tuning run and of the `bortnas finetune` command: frozen, keyword-only
dataclasses, the only place where a default is written.

Why two classes, the second extending the first: `AgoraConfig` is what `agora()` and
`finetune_plain()` take, and the run's identity (`state.json`, which decides whether a folder
resumes) is built from it field by field. The command needs more: its inputs (data, student,
teacher, run folder, Θ's source, split sizes) and how it runs (threads, restart, progress). Those
are not settings of the algorithm, so they stay out of the Python API and of the identity;
`FinetuneConfig(AgoraConfig)` adds them, so `bortnas finetune`'s options are generated from one
class (`bortnas.cli.options`) and a default shared by the API and the command lives once.
Each field's `help` (and `choices`, `metavar`) documents it, on the command line too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import DataError
from ..core.settings import in_range, one_of, setting, whole_at_least
from ..core.theta import Hyperparameters
from .augment import GENERATORS, resolve
from .theta import DEFAULT_THETA, PRUNING_RULES, pruning_rule

#: Tokens per text, for the student, the teacher and every helper that encodes texts.
DEFAULT_MAX_LENGTH = 64
ALGORITHMS = ("agora", "plain")
MISTAKE_SPLITS = ("eval", "train")


@dataclass(frozen=True, kw_only=True)
class AgoraConfig:
    """The settings of one fine-tuning run (Agora or the plain baseline), field by field.

    Every setting that changes the numbers goes into the run's identity (`state.json`,
    `IDENTITY_FIELDS`), so a changed one never resumes another run's folder;
    `min_teacher_accuracy` is a gate checked at the start, not part of it. The data, the
    teacher, the output folder and the progress display are passed beside the config.
    """

    algorithm: str = field(
        default="agora",
        metadata=setting(
            "agora, or plain: the baseline, Θ's first θ trained once", choices=ALGORITHMS
        ),
    )
    thetas: tuple[Hyperparameters, ...] = field(
        default=tuple(DEFAULT_THETA),
        metadata=setting("Θ: the hyper-parameter configurations tried (duplicates are dropped)"),
    )
    num_labels: int = field(default=2, metadata=setting("number of classes of the task"))
    generators: tuple[str, ...] = field(
        default=("synonym", "deletion"),
        metadata=setting(
            "data generators, cycled over the mistakes; empty: Θ pruning alone",
            choices=tuple(GENERATORS),
        ),
    )
    per_mistake: int = field(default=4, metadata=setting("new texts generated per mistake"))
    prune: str = field(
        default="halving", metadata=setting("Θ pruning rule", choices=tuple(PRUNING_RULES))
    )
    patience: int | None = field(
        default=2,
        metadata=setting("stop after this many rounds without a better eval accuracy; 0: never"),
    )
    replay_rounds: int = field(
        default=0, metadata=setting("the paper's replay: extra rounds once Θ is down to one θ")
    )
    mistakes_from: str = field(
        default="eval",
        metadata=setting("split whose mistakes seed new data", choices=MISTAKE_SPLITS),
    )
    min_confidence: float = field(
        default=0.0, metadata=setting("drop generated texts the teacher labels less surely")
    )
    min_teacher_accuracy: float = field(
        default=2 / 3, metadata=setting("eval accuracy the teacher must reach, the paper's 2/3")
    )
    warm_start: bool = field(
        default=False, metadata=setting("start each round from the best student, not from scratch")
    )
    seed: int = field(default=0, metadata=setting("run seed: student init, data order, generators"))
    max_length: int = field(
        default=DEFAULT_MAX_LENGTH, metadata=setting("tokens per text, longer ones are cut")
    )
    vocab_size: int = field(
        default=2048,
        metadata=setting(
            "size of the BPE trained on the train split for a random-init student; a "
            "checkpoint keeps its own tokenizer"
        ),
    )
    total_steps: int | None = field(
        default=None, metadata=setting("training steps per θ (default: θ's epochs)")
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "thetas", tuple(self.thetas))
        object.__setattr__(self, "generators", tuple(self.generators))
        whole_at_least(self, 0, ("per_mistake", "replay_rounds", "patience"), DataError)
        if self.patience == 0:  # the command line's "never"
            object.__setattr__(self, "patience", None)
        one_of(self, "algorithm", ALGORITHMS, DataError)
        one_of(self, "mistakes_from", MISTAKE_SPLITS, DataError)
        pruning_rule(self.prune)
        resolve(self.generators)
        whole_at_least(self, 1, ("max_length", "vocab_size", "total_steps"), DataError)
        in_range(self, ("min_confidence", "min_teacher_accuracy"), DataError, low=0, high=1)

    def plain(self) -> AgoraConfig:
        """The baseline's settings: Θ's first θ trained once, no teacher, no generated data."""
        return AgoraConfig(
            algorithm="plain",
            thetas=self.thetas[:1],
            num_labels=self.num_labels,
            generators=(),
            per_mistake=0,
            patience=None,
            min_teacher_accuracy=0.0,
            seed=self.seed,
            max_length=self.max_length,
            vocab_size=self.vocab_size,
            total_steps=self.total_steps,
        )


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig(AgoraConfig):
    """Every option of `bortnas finetune`: the run's settings plus the command's own inputs.

    `theta` names Θ (the command loads it into `thetas`); `num_labels` comes from the task.
    """

    data: str = field(
        metadata=setting(
            "built-in task, or a .csv/.jsonl file with text and label columns",
            metavar="wordnet|rotten-tomatoes|PATH",
        )
    )
    student: str = field(
        metadata=setting(
            "exported architecture (random init) or a checkpoint folder with model.safetensors "
            "(e.g. a `bortnas pretrain` output; it keeps its own tokenizer)",
            metavar="ARCH.json|DIR",
        )
    )
    teacher: str = field(
        default="default",
        metadata=setting(
            "default: all-MiniLM-L6-v2 fine-tuned on the train split (cached), or a "
            "safetensors checkpoint folder; agora only",
            metavar="default|DIR",
        ),
    )
    out: str = field(metadata=setting("run folder; rerun to resume", metavar="DIR"))
    theta: str = field(
        default="default",
        metadata=setting(
            "Θ: a built-in grid, or a .toml/.json file of [grid] or [[theta]]",
            metavar="default|bort|FILE",
        ),
    )
    train_size: int = field(default=300, metadata=setting("labelled examples to train on"))
    eval_size: int = field(
        default=200, metadata=setting("examples that choose the model and seed new texts")
    )
    test_size: int = field(default=500, metadata=setting("examples scored once, at the end"))
    split_seed: int = field(default=0, metadata=setting("seed of the train/eval/test split"))
    text_column: str = field(default="text", metadata=setting("text column of a .csv/.jsonl"))
    label_column: str = field(default="label", metadata=setting("label column of a .csv/.jsonl"))
    threads: int | None = field(
        default=None, metadata=setting("torch CPU threads (default: torch's)")
    )
    restart: bool = field(default=False, metadata=setting("discard a previous run in --out"))
    no_progress: bool = field(default=False, metadata=setting("no progress bars (for logs)"))

    def __post_init__(self) -> None:
        sizes = ("train_size", "eval_size", "test_size", "per_mistake", "threads")
        whole_at_least(self, 1, sizes, DataError)
        super().__post_init__()


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
