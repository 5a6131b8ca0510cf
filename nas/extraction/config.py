"""`SearchConfig`: every setting of a search, in one frozen, keyword-only, documented object.

Why one object: the CLI options are generated from its fields (`bortnas.cli.search`), the worker
processes receive it whole, `summary.json` records it, and the study's identity is computed from
it, so no setting is copied by hand between those places. Each field's `help` is its
documentation, in the style of `transformers.BertConfig`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bortnas.proxies.training import DEFAULT_STEPS, DEFAULT_THETA, ERROR_LOSSES

from ..core.architecture import SYMBOLS
from ..core.errors import BortnasError
from ..core.settings import one_of, setting, whole_at_least
from ..core.theta import SEARCH_FIELDS, Hyperparameters, read_theta_file
from .error_model import ERROR_MODELS


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """What to search, how to score it and where to keep the results."""

    space: str = field(
        default="bert-large",
        metadata=setting("built-in space name (`bortnas spaces`) or the path of a .toml space"),
    )
    optimizer: str = field(
        default="fptas",
        metadata=setting("fptas (the paper's), exhaustive (reference: 10x s), random or nsga2"),
    )
    epsilon: int = field(
        default=1,
        metadata=setting(
            "ε: sort the space by p, cut it into intervals of ε candidates, train one per "
            "interval (1 trains every candidate)"
        ),
    )
    train: str = field(
        default="design",
        metadata=setting(
            "design: train a designed subset (4 points per error-model term), fit the model, "
            "then every candidate inside the pick's tie band until none is predicted; all: "
            "train every candidate (ε = 1 only)"
        ),
    )
    steps: int = field(
        default=DEFAULT_STEPS,
        metadata=setting("s: training steps of each student (per θ)"),
    )
    theta: tuple[Hyperparameters, ...] = field(
        default=DEFAULT_THETA,
        metadata=setting(
            "Θ: training settings; every candidate is trained under each and keeps its best "
            "(CLI: a Θ file in Agora's format, .toml or .json)",
            cli="--theta",
            metavar="FILE",
        ),
    )
    seeds: int = field(
        default=1,
        metadata=setting(
            "seeds per θ, averaged; the tie band sees their noise through the error model's "
            "residuals (with --error-model none: each candidate's own seed spread, or an assumed "
            "4 %% with one seed)"
        ),
    )
    error_model: str = field(
        default="quadratic",
        metadata=setting(
            "quadratic: W uses ê fitted over every trained candidate as a smooth function of "
            "D, A, H, I (denoises one-seed runs); none: each candidate's measured ê; law: a "
            "published scaling law at --budget, training nothing (docs/algorithm.md)"
        ),
    )
    error_loss: str = field(
        default="distillation",
        metadata=setting(
            "what the students' ê is: distillation (to the teacher) or mlm (plain masked-LM "
            "loss, the loss pretraining optimises; head at masked positions only)"
        ),
    )
    law: str = field(
        default="hoffmann2022",
        metadata=setting("scaling law for --error-model law and the sensitivity table"),
    )
    budget: str = field(
        default="1e8,1e10,inf",
        metadata=setting(
            "training tokens: the law's budgets in the sensitivity table (comma-separated; inf = "
            "converged); with --error-model law, W uses the first"
        ),
    )
    reference_errors: str | None = field(
        default=None,
        metadata=setting(
            "a reference CSV of errors (benchmarks/results/error_reference.csv's format), one "
            "more reading in the sensitivity table"
        ),
    )
    reference: tuple[int, int, int, int] | None = field(
        default=None,
        metadata=setting(
            "T as D A H I (need not be in the space; only its p and i are used); default: the "
            "space's maximum point",
            nargs=4,
            metavar=SYMBOLS,
        ),
    )
    with_embeddings: bool = field(
        default=False,
        metadata=setting(
            "p counts the embeddings too (default: without embeddings, the paper's effective "
            "size: the encoder layers and the pooler)"
        ),
    )
    alpha: float = field(default=1.0, metadata=setting("exponent on W's parameter factor"))
    beta: float = field(default=1.0, metadata=setting("exponent on W's latency factor"))
    gamma: float = field(default=1.0, metadata=setting("exponent on W's 1/error factor"))
    latency: str = field(
        default="predicted",
        metadata=setting(
            "predicted (layer table + calibration) or measured (every candidate timed)"
        ),
    )
    runtime: str = field(
        default="eager",
        metadata=setting("eager (PyTorch) or onnxruntime (exported to ONNX, CPU): what is timed"),
    )
    latency_batch: int | None = field(default=None, metadata=setting("latency batch size (1)"))
    latency_sequence: int | None = field(
        default=None, metadata=setting("latency sequence length (128)")
    )
    threads: int | None = field(default=None, metadata=setting("torch threads for latency timing"))
    device: str = field(
        default="cpu",
        metadata=setting("cpu, cuda or auto: where students train and models are timed"),
    )
    corpus: str | None = field(
        default=None,
        metadata=setting("your text: a file (one document a line) or a folder of .txt"),
    )
    teacher: str | None = field(
        default=None,
        metadata=setting("distillation teacher: default, none (masked LM) or a local checkpoint"),
    )
    width_scale: int | None = field(
        default=None, metadata=setting("students are trained at H/k and I/k (default per space)")
    )
    trials: int = field(
        default=60, metadata=setting("candidates for the random and nsga2 baselines")
    )
    seed: int = field(default=0, metadata=setting("seed of the random and nsga2 baselines"))
    name: str | None = field(
        default=None, metadata=setting("run folder name (default: the space name)")
    )
    runs_dir: str = field(default="runs", metadata=setting("where run folders and caches live"))
    storage: str | None = field(
        default=None,
        metadata=setting(
            "any Optuna storage URL (postgresql://..., sqlite:///...); processes running the "
            "same search against one store share the work"
        ),
    )
    remeasure: bool = field(
        default=False, metadata=setting("time the latency table and calibration again")
    )
    workers: int | None = field(
        default=None,
        metadata=setting(
            "local processes training side by side (default: one per core, at most 2)"
        ),
    )

    def __post_init__(self) -> None:
        whole_at_least(self, 1, ("epsilon", "steps", "seeds", "trials", "workers"), BortnasError)
        if self.workers is not None and self.workers > 64:
            raise BortnasError(f"--workers must be between 1 and 64, got {self.workers}")
        from .scaling_law import get_law, parse_budgets

        object.__setattr__(self, "budget", ",".join(f"{b:g}" for b in parse_budgets(self.budget)))
        get_law(self.law)
        one_of(self, "error_loss", ERROR_LOSSES, BortnasError)
        one_of(self, "train", ("design", "all"), BortnasError)
        one_of(self, "error_model", ERROR_MODELS, BortnasError)
        if not self.theta:
            raise BortnasError("Θ is empty: give at least one training setting")
        object.__setattr__(self, "theta", tuple(self.theta))
        if self.reference is not None:
            object.__setattr__(self, "reference", tuple(int(v) for v in self.reference))
        object.__setattr__(self, "space", str(self.space))
        object.__setattr__(self, "runs_dir", str(self.runs_dir))

    def replace(self, **changes: Any) -> SearchConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (Θ as a list of tables)."""
        data = asdict(self)
        data["theta"] = [setting.to_dict(SEARCH_FIELDS) for setting in self.theta]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        data = dict(data)
        data["theta"] = tuple(Hyperparameters(**entry) for entry in data.get("theta", []))
        if data.get("reference") is not None:
            data["reference"] = tuple(data["reference"])
        return cls(**data)

    #: Fields that decide the values of a study's trials (the rest say where and how fast).
    IDENTITY_FIELDS = (
        "optimizer",
        "steps",
        "theta",
        "seeds",
        "with_embeddings",
        "latency",
        "latency_batch",
        "latency_sequence",
        "width_scale",
        "trials",
        "seed",
    )


def load_search_theta(source: str | Path) -> tuple[Hyperparameters, ...]:
    """Θ for the search from a Θ file (`[grid]` or `[[theta]]`, as Agora's).

    The search varies learning_rate, batch_size, warmup and weight_decay; its training length is
    `--steps` and its seeds `--seeds`, so a file that varies epochs or seed is refused.
    """
    settings = read_theta_file(source)
    for key in ("epochs", "seed"):
        if len({getattr(s, key) for s in settings}) > 1:
            raise BortnasError(
                f"{source}: the search's Θ cannot vary {key!r} (use --steps and --seeds)"
            )
    return tuple(
        dict.fromkeys(
            Hyperparameters(
                learning_rate=s.learning_rate,
                batch_size=s.batch_size,
                warmup=s.warmup,
                weight_decay=s.weight_decay,
            )
            for s in settings
        )
    )
