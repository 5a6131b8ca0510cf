"""Agora (de Wynter 2020, arXiv 2010.07990): fine-tuning a small student with scarce labelled data.

Why: Bort's authors report that Bort fine-tunes near random without Agora, and Agora was never
released. What is known (the author's paper and blog) and implemented here, round by round:
1. train one student per surviving θ in Θ on the current training set; score each on the eval
   split;
2. take the round's best student and the eval examples it gets wrong;
3. generate new texts around those mistakes (`augment`), label them with the teacher,
   add them to the training set;
4. sort Θ by eval accuracy and prune it (`theta`, default halving);
5. stop after the round that trains a single θ, or when the best eval accuracy has not improved
   for `patience` rounds; return the best student of all rounds, with a log of every round.

Where the paper is silent we chose, and each choice is a setting of `AgoraConfig`:
- every round trains each θ from the *same* initial student (seeded by the run seed and θ's
  seed), as the paper's "fine-tune the student under θ" reads; `warm_start=True` instead starts
  from the best student so far;
- mistakes are taken on the eval split (`mistakes_from="eval"`), as the run-time term S̄|Θ||E|
  suggests. Consequence: after round 1 the training set holds perturbations of eval examples, so
  eval accuracy is an optimistic selection score; only the untouched test split is honest;
- the teacher gives hard labels (argmax); `min_confidence` drops generated points it is unsure of;
- `per_mistake` new texts per mistake, cycling through the generators (default synonym, deletion);
- "replay" (which helped Bort converge) is read as extra rounds after Θ is down to one θ: the
  survivor keeps training from scratch on a training set that keeps growing around its mistakes
  (`replay_rounds`, default 0);
- the teacher must reach `min_teacher_accuracy` (the paper's 2/3) on the eval split.

The test split is never an argument here: the caller scores the returned model on it.
Each round is checkpointed in `out` (state.json, the best student as safetensors, the tokenizer);
rerunning with the same arguments resumes after the last finished round and gives the same result.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.architecture import Architecture
from ..core.errors import DataError, StoreError
from ..core.files import atomic_directory, write_json_atomic
from ..core.hf import quiet
from ..core.theta import Hyperparameters, ThetaError
from ..core.version import bortnas_version
from .classification import classifier_tokenizer, evaluate
from .config import IDENTITY_FIELDS, AgoraConfig
from .rounds import RoundLog, Run, run_round
from .tasks import Split
from .teacher import ClassifierTeacher
from .theta import pruning_rule

__all__ = ["AgoraConfig", "FinetuneResult", "RoundLog", "agora", "finetune_plain"]

STATE = "state.json"


@dataclass
class FinetuneResult:
    """The chosen student and how it was found. `steps`/`examples` total every training run."""

    algorithm: str
    model: Any
    tokenizer: Any
    best_theta: Hyperparameters
    eval_accuracy: float
    best_round: int
    rounds: list[RoundLog]
    max_length: int
    generated: list[tuple[str, int]] = field(default_factory=list)
    steps: int = 0
    examples: int = 0
    teacher_eval_accuracy: float | None = None
    run_dir: Path | None = None

    def accuracy(self, data: Split) -> float:
        """Accuracy of the chosen student on any split (the caller's test split, typically)."""
        return evaluate(self.model, self.tokenizer, data, max_length=self.max_length)[0]


def agora(
    student: Architecture | str | Path,
    teacher: ClassifierTeacher,
    train: Split,
    evaluation: Split,
    config: AgoraConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = True,
    on_round_end: Callable[[RoundLog], None] | None = None,
) -> FinetuneResult:
    """Run Agora with the settings of `config` (`AgoraConfig()` when None; its `algorithm` is
    ignored: this is Agora); `student` is an `Architecture` (random init) or a checkpoint folder.

    `AgoraConfig(generators=())` is an ablation: Θ pruning alone (successive halving), no new data.
    """
    return _finetune(
        replace(_settings(config), algorithm="agora"),
        student=student,
        teacher=teacher,
        train=train,
        evaluation=evaluation,
        out=out,
        progress=progress,
        on_round_end=on_round_end,
    )


def finetune_plain(
    student: Architecture | str | Path,
    train: Split,
    evaluation: Split,
    config: AgoraConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """Ordinary fine-tuning (the baseline): Θ's first θ trained once (`AgoraConfig.plain`);
    `config.total_steps` overrides θ's epochs."""
    return _finetune(
        _settings(config).plain(),
        student=student,
        teacher=None,
        train=train,
        evaluation=evaluation,
        out=out,
        progress=progress,
        on_round_end=None,
    )


def _settings(config: object) -> AgoraConfig:
    """`config`, or the defaults; a plain error for a call in the old keyword-argument style."""
    if config is None:
        return AgoraConfig()
    if not isinstance(config, AgoraConfig):
        raise TypeError(
            f"expected an AgoraConfig, got {type(config).__name__} "
            "(Θ and every setting go in it: AgoraConfig(thetas=..., seed=...))"
        )
    return config


def _finetune(
    config: AgoraConfig,
    *,
    student: Architecture | str | Path,
    teacher: ClassifierTeacher | None,
    train: Split,
    evaluation: Split,
    out: str | Path | None,
    progress: bool,
    on_round_end: Callable[[RoundLog], None] | None,
) -> FinetuneResult:
    if train.role != "train" or evaluation.role != "eval":
        raise DataError(
            f"fine-tuning takes the train and eval splits, got {train.role!r} and "
            f"{evaluation.role!r}; the test split is only for scoring the result"
        )
    thetas = list(dict.fromkeys(config.thetas))
    if not thetas:
        raise ThetaError("Θ is empty")
    rule = pruning_rule(config.prune)
    max_length = config.max_length
    init_from = None if isinstance(student, Architecture) else Path(student)
    if init_from is not None:
        from .teacher import load_classifier

        tokenizer = load_classifier(init_from, config.num_labels)[1]
    else:
        tokenizer = classifier_tokenizer(train.texts, config.vocab_size)
    teacher_accuracy = None
    if teacher is not None:
        teacher_accuracy = teacher.accuracy(evaluation)
        if teacher_accuracy < config.min_teacher_accuracy:
            raise DataError(
                f"the teacher reaches {teacher_accuracy:.3f} eval accuracy, below the "
                f"{config.min_teacher_accuracy:.3f} Agora needs; train a better teacher"
            )
    identity = {
        "version": bortnas_version(),
        "algorithm": config.algorithm,
        "student": student.to_dict() if init_from is None else str(init_from.resolve()),
        "train": train.fingerprint,
        "eval": evaluation.fingerprint,
        "thetas": [t.to_dict() for t in thetas],
        "teacher": teacher.identity if teacher is not None else None,
        **{
            key: (list(value) if isinstance(value, tuple) else value)
            for key in IDENTITY_FIELDS
            for value in [getattr(config, key)]
        },
    }
    out = Path(out) if out is not None else None
    state = _load_state(out, identity)
    if state is None:
        state = {
            "identity": identity,
            "next_round": 0,
            "survivors": [t.to_dict() for t in thetas],
            "rounds": [],
            "generated": [],
            "best": None,
            "stale": 0,
            "replays": 0,
            "done": False,
            "steps": 0,
            "examples": 0,
        }
        if out is not None:
            with atomic_directory(out / "tokenizer") as staging:
                tokenizer.save_pretrained(staging)
    best_model = _load_best(out, state, config.num_labels)
    run = Run(config, student, init_from, train, evaluation, teacher, tokenizer, rule, progress)
    while not state["done"]:
        best_model = run_round(run, state, best_model)
        if out is not None:
            folder = out / f"best-round{state['best']['round']}"
            if state["best"]["round"] == state["next_round"] - 1:  # improved in this round
                with atomic_directory(folder) as staging, quiet():
                    best_model.save_pretrained(staging)
                    tokenizer.save_pretrained(staging)
            state["best"]["folder"] = folder.name
            write_json_atomic(out / STATE, state)
            for old in out.glob("best-round*"):
                if old.name != folder.name:
                    shutil.rmtree(old, ignore_errors=True)
        if on_round_end is not None:
            on_round_end(RoundLog(**state["rounds"][-1]))
    return FinetuneResult(
        algorithm=config.algorithm,
        model=best_model,
        tokenizer=tokenizer,
        best_theta=Hyperparameters.from_dict(state["best"]["theta"]),
        eval_accuracy=state["best"]["accuracy"],
        best_round=state["best"]["round"],
        rounds=[RoundLog(**r) for r in state["rounds"]],
        generated=[(t, y) for t, y in state["generated"]],
        steps=state["steps"],
        examples=state["examples"],
        teacher_eval_accuracy=teacher_accuracy,
        run_dir=out,
        max_length=max_length,
    )


def _load_state(out: Path | None, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state of this same run, None for a fresh folder; refuses a different run."""
    if out is None:
        return None
    import json

    path = out / STATE
    if not path.is_file():
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out}: exists and is not a folder")
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: damaged run state ({exc}); use a new --out folder") from None
    saved = json.loads(json.dumps(identity, default=str))
    if state.get("identity") != saved:
        changed = sorted(k for k in saved if state.get("identity", {}).get(k) != saved[k])
        raise StoreError(
            f"{out}: holds a different run (changed: {', '.join(changed)}); "
            "use a new --out folder or --restart"
        )
    return state


def _load_best(out: Path | None, state: dict[str, Any], num_labels: int):
    if out is None or state["best"] is None:
        return None
    from .teacher import load_classifier

    return load_classifier(out / state["best"]["folder"], num_labels)[0]
