"""One round of Agora: train every surviving θ, keep the best student, grow the training set
around its mistakes with teacher-labelled texts, prune Θ (the steps are listed in `agora`).

Why apart: the round is the algorithm's unit of work and of checkpointing; `agora` owns the
loop, the run folder and resumption around it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.architecture import Architecture
from ..core.theta import Hyperparameters
from .augment import generate_around
from .classification import build_student, evaluate, train_classifier
from .config import AgoraConfig
from .tasks import Split
from .teacher import ClassifierTeacher


@dataclass
class RoundLog:
    """One round: what was trained, how it scored, what was generated, what survived."""

    round: int
    replay: bool
    train_size: int
    results: list[dict[str, Any]]
    best_theta: str
    best_accuracy: float
    mistakes: int = 0
    generated: int = 0
    added: int = 0
    survivors: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Run:
    """What every round of one run reads: its settings, data, teacher and tokenizer."""

    config: AgoraConfig
    student: Architecture | str | Path
    init_from: Path | None
    train: Split
    evaluation: Split
    teacher: ClassifierTeacher | None
    tokenizer: Any
    rule: Callable[[list[Hyperparameters]], list[Hyperparameters]]
    progress: bool


def run_round(run: Run, state: dict[str, Any], best_model: Any) -> Any:
    """Train every survivor once, keep the best, generate around its mistakes, prune Θ."""
    started = time.perf_counter()
    config, tokenizer, init_from, rule, teacher = (
        run.config,
        run.tokenizer,
        run.init_from,
        run.rule,
        run.teacher,
    )
    train, evaluation, seed = run.train, run.evaluation, config.seed
    number = state["next_round"]
    data = train.plus([t for t, _ in state["generated"]], [y for _, y in state["generated"]])
    survivors = [Hyperparameters.from_dict(t) for t in state["survivors"]]
    results, round_best, round_best_acc, round_best_predictions = [], None, -1.0, None
    bar = progress_bar(run.progress)
    with bar:
        for index, theta in enumerate(survivors):
            warm = config.warm_start and best_model is not None
            model = build_student(
                run.student if init_from is None else None,
                tokenizer,
                config.num_labels,
                seed=seed * 1000 + theta.seed,
                init_from=init_from,
            )
            if warm:
                model.load_state_dict(best_model.state_dict())
            per_epoch = math.ceil(len(data) / theta.batch_size)
            total = config.total_steps or per_epoch * theta.epochs
            job = bar.add_task(f"round {number + 1} θ {index + 1}/{len(survivors)}", total=total)
            stats = train_classifier(
                model,
                tokenizer,
                data,
                theta,
                seed=seed * 1_000_003 + theta.seed * 1009 + number,
                max_length=config.max_length,
                total_steps=config.total_steps,
                on_step=lambda step, _total, job=job: bar.update(job, completed=step),
            )
            accuracy, predictions = evaluate(
                model, tokenizer, evaluation, max_length=config.max_length
            )
            state["steps"] += stats.steps
            state["examples"] += stats.examples
            results.append(
                {
                    "theta": theta.to_dict(),
                    "name": theta.name,
                    "eval_accuracy": accuracy,
                    "steps": stats.steps,
                    "examples": stats.examples,
                }
            )
            if accuracy > round_best_acc:
                round_best, round_best_acc, round_best_predictions = model, accuracy, predictions
                round_best_theta = theta
    improved = state["best"] is None or round_best_acc > state["best"]["accuracy"]
    if improved:
        best_model = round_best
        state["best"] = {
            "round": number,
            "theta": round_best_theta.to_dict(),
            "accuracy": round_best_acc,
        }
        state["stale"] = 0
    else:
        state["stale"] += 1
    log = RoundLog(
        number, state["replays"] > 0, len(data), results, round_best_theta.name, round_best_acc
    )
    ranked = [
        Hyperparameters.from_dict(r["theta"])
        for r in sorted(results, key=lambda r: -r["eval_accuracy"])
    ]  # stable: ties keep Θ order
    if config.patience is not None and state["stale"] >= config.patience:
        state["done"] = True
    elif len(survivors) > 1:
        state["survivors"] = [t.to_dict() for t in rule(ranked)]
    elif state["replays"] < config.replay_rounds:
        state["replays"] += 1
    else:
        state["done"] = True
    log.survivors = len(state["survivors"])
    if not state["done"] and teacher is not None:
        if config.mistakes_from == "eval":
            source, predictions = evaluation, round_best_predictions
        else:
            source = train
            predictions = evaluate(round_best, tokenizer, train, max_length=config.max_length)[1]
        mistakes = [
            t for t, y, p in zip(source.texts, source.labels, predictions, strict=True) if p != y
        ]
        rng = random.Random(f"agora-{seed}-{number}")
        texts, _ = generate_around(
            mistakes,
            config.generators,
            per_text=config.per_mistake,
            rng=rng,
            exclude=set(data.texts) | set(evaluation.texts),
        )
        labels, confidence = teacher.label(texts)
        kept = [
            (t, y)
            for t, y, c in zip(texts, labels, confidence, strict=True)
            if c >= config.min_confidence
        ]
        state["generated"] += kept
        log.mistakes, log.generated, log.added = len(mistakes), len(texts), len(kept)
    log.seconds = round(time.perf_counter() - started, 3)
    state["rounds"].append(asdict(log))
    state["next_round"] = number + 1
    return best_model


def progress_bar(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )
