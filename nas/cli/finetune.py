"""`bortnas finetune`: Agora or plain fine-tuning of a student architecture on a labelled task.

Why a thin layer: the command only parses arguments, loads the task, student and teacher, calls
`agora` / `finetune_plain` (`bortnas.finetuning.agora`), and reads the test split exactly once —
after the model is chosen — to print and store the final test accuracy (`OUT/result.json`, with
what it depends on). `plain` trains the first θ of Θ once: the baseline Agora's guarantee is
stated against.
"""

from __future__ import annotations

import argparse
import platform
import shutil
from pathlib import Path

from rich.table import Table

from ..core.errors import DataError
from ..core.files import atomic_directory, write_json_atomic
from ..finetuning.augment import GENERATORS, resolve
from ..finetuning.theta import PRUNING_RULES, load_theta
from .console import add_command, console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "finetune",
        help="fine-tune a student architecture with Agora (or plainly, as a baseline)",
        example="bortnas export 2 4 128 256 -o student/ && bortnas finetune --algorithm agora "
        "--data wordnet --student student/config.json --teacher default --out runs/agora",
        handler=_finetune,
    )
    add = parser.add_argument
    add("--algorithm", choices=("agora", "plain"), default="agora")
    add(
        "--data",
        required=True,
        metavar="wordnet|rotten-tomatoes|PATH",
        help="built-in task, or a .csv/.jsonl file with text and label columns",
    )
    add(
        "--student",
        required=True,
        metavar="ARCH.json|DIR",
        help="exported architecture (random init) or a checkpoint folder with model.safetensors "
        "(e.g. a `bortnas pretrain` output; it keeps its own tokenizer)",
    )
    add(
        "--teacher",
        default="default",
        metavar="default|DIR",
        help="default: all-MiniLM-L6-v2 fine-tuned on the train split (cached); or a "
        "safetensors checkpoint folder (agora only)",
    )
    add("--out", required=True, metavar="DIR", help="run folder; rerun to resume")
    add(
        "--theta",
        default="default",
        metavar="default|bort|FILE",
        help="Θ: built-in grid or a .toml/.json file ([grid] or [[theta]])",
    )
    add("--seed", type=int, default=0)
    add("--train-size", type=int, default=300)
    add("--eval-size", type=int, default=200)
    add("--test-size", type=int, default=500)
    add("--split-seed", type=int, default=0)
    add("--text-column", default="text")
    add("--label-column", default="label")
    add(
        "--generators",
        default="synonym,deletion",
        help=f"comma-separated, from {', '.join(GENERATORS)}",
    )
    add("--per-mistake", type=int, default=4, help="new texts per eval mistake")
    add("--prune", choices=tuple(PRUNING_RULES), default="halving")
    add("--patience", type=int, default=2, help="stop after this many rounds without gain")
    add("--replay-rounds", type=int, default=0)
    add("--max-length", type=int, default=64, help="tokens per text")
    add(
        "--vocab-size",
        type=int,
        default=2048,
        help="BPE vocabulary of a random-init student (a checkpoint keeps its tokenizer)",
    )
    add("--min-teacher-accuracy", type=float, default=2 / 3)
    add("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    add("--restart", action="store_true", help="discard a previous run in --out")
    add("--no-progress", action="store_true")


def _student(path: str):
    from ..extraction.export import load_architecture

    folder = Path(path)
    if folder.is_dir() and any(folder.glob("*.safetensors")):
        return folder
    return load_architecture(path)[0]


def _finetune(args: argparse.Namespace) -> int:
    import torch

    from ..core.hf import quiet
    from ..core.version import bortnas_version
    from ..finetuning.agora import STATE, agora, finetune_plain
    from ..finetuning.classification import finetuned_teacher
    from ..finetuning.tasks import load_task
    from ..finetuning.teacher import load_classifier_teacher

    for name in ("train_size", "eval_size", "test_size", "per_mistake", "max_length"):
        if getattr(args, name) < 1:
            raise DataError(f"--{name.replace('_', '-')} must be at least 1")
    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    thetas = load_theta(args.theta)
    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    resolve(generators)
    student = _student(args.student)
    task = load_task(
        args.data,
        train_size=args.train_size,
        eval_size=args.eval_size,
        test_size=args.test_size,
        split_seed=args.split_seed,
        text_column=args.text_column,
        label_column=args.label_column,
    )
    out = Path(args.out)
    if args.restart:
        (out / STATE).unlink(missing_ok=True)
        for folder in [*out.glob("best-round*"), out / "tokenizer", out / "student"]:
            shutil.rmtree(folder, ignore_errors=True)
    common = dict(
        num_labels=task.num_labels,
        seed=args.seed,
        max_length=args.max_length,
        vocab_size=args.vocab_size,
        out=out,
        progress=not args.no_progress,
    )
    teacher = None
    if args.algorithm == "agora":
        if args.teacher == "default":
            with console.status("fine-tuning the default teacher (cached afterwards)"):
                teacher = finetuned_teacher(task.train, task.num_labels, max_length=args.max_length)
        else:
            teacher = load_classifier_teacher(
                args.teacher, task.num_labels, max_length=args.max_length
            )
        result = agora(
            student,
            teacher,
            task.train,
            task.eval,
            thetas,
            generators=generators,
            per_mistake=args.per_mistake,
            prune=args.prune,
            patience=args.patience if args.patience > 0 else None,
            replay_rounds=args.replay_rounds,
            min_teacher_accuracy=args.min_teacher_accuracy,
            **common,
        )
    else:
        result = finetune_plain(student, task.train, task.eval, thetas[0], **common)
    test_accuracy = result.accuracy(task.test)  # the one and only read of the test split
    teacher_test = teacher.accuracy(task.test) if teacher is not None else None
    with atomic_directory(out / "student") as staging, quiet():
        result.model.save_pretrained(staging)
        result.tokenizer.save_pretrained(staging)
    _print_rounds(result)
    summary = {
        "algorithm": result.algorithm,
        "task": task.name,
        "task_fingerprint": task.fingerprint,
        "labels": list(task.label_names),
        "splits": {"train": len(task.train), "eval": len(task.eval), "test": len(task.test)},
        "best_theta": result.best_theta.to_dict(),
        "best_round": result.best_round + 1,
        "eval_accuracy": result.eval_accuracy,
        "test_accuracy": test_accuracy,
        "teacher_eval_accuracy": result.teacher_eval_accuracy,
        "teacher_test_accuracy": teacher_test,
        "teacher": teacher.identity if teacher is not None else None,
        "optimizer_steps": result.steps,
        "training_examples_seen": result.examples,
        "generated_examples": len(result.generated),
        "seed": args.seed,
        "versions": {"bortnas": bortnas_version(), "torch": torch.__version__},
        "hardware": {"machine": platform.machine(), "threads": torch.get_num_threads()},
    }
    write_json_atomic(out / "result.json", summary)
    table = Table(show_header=False, box=None)
    if teacher_test is not None:
        table.add_row(
            "teacher eval / test accuracy",
            f"{result.teacher_eval_accuracy:.4f} / {teacher_test:.4f}",
        )
    table.add_row("chosen θ", result.best_theta.name)
    table.add_row("eval accuracy (selection)", f"{result.eval_accuracy:.4f}")
    table.add_row("optimizer steps / examples seen", f"{result.steps} / {result.examples}")
    table.add_row("test accuracy", f"{test_accuracy:.4f}")
    console.print(table)
    console.print(f"student written to {out / 'student'}", markup=False, highlight=False)
    return 0


def _print_rounds(result) -> None:
    """One row per round; θ shown by the settings that vary across Θ only (narrow terminals)."""
    thetas = [r["theta"] for log in result.rounds for r in log.results]
    varying = [k for k in thetas[0] if len({t[k] for t in thetas}) > 1] or ["learning_rate"]
    short = {
        "learning_rate": "lr",
        "batch_size": "b",
        "epochs": "ep",
        "warmup": "wu",
        "weight_decay": "wd",
        "seed": "s",
    }
    table = Table(title=f"{result.algorithm}: rounds", title_justify="left")
    for column in ("round", "|Θ|", "train", "best θ", "eval acc", "wrong", "added", "kept"):
        table.add_column(column, no_wrap=column == "best θ")
    for log in result.rounds:
        best = max(log.results, key=lambda r: r["eval_accuracy"])["theta"]
        label = f"{log.round + 1}{' (replay)' if log.replay else ''}"
        table.add_row(
            label,
            str(len(log.results)),
            str(log.train_size),
            " ".join(f"{short[k]}={best[k]:g}" for k in varying),
            f"{log.best_accuracy:.4f}",
            str(log.mistakes),
            str(log.added),
            str(log.survivors),
        )
    console.print(table)
