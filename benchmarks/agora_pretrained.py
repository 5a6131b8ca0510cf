"""Agora vs plain fine-tuning on *pretrained* students, on two scarce real tasks, over seeds.

Why: Agora is shown elsewhere only on randomly initialised students, while Bort's users met the
problem on a pretrained one (ordinary recipes fine-tuned it badly). Students:
- `minilm`: all-MiniLM-L6-v2's encoder (D6-A12-H384-I1536, a real pretrained compact BERT,
  offline; note that the default teacher is the same encoder fine-tuned on the train split);
- `pretrained`: what `bortnas pretrain` writes for a small shape (default D2-A4-H128-I256, default
  corpus and teacher; shape and budget printed), built once into `--work`.
Methods, per task, student and seed (test accuracy; the test split is read once per model):
- `plain`: Θ's first θ trained once (the baseline Agora's guarantee is stated against);
- `plain-matched`: the same θ for as many optimizer steps as Agora took in all;
- `agora`: the full algorithm over Θ (halving, synonym + deletion generators).
Θ for pretrained students: learning rates {1e-4, 3e-4} x seeds {0, 1}, batch 16, 4 epochs (2 with
--quick): between Bort's fine-tuning rates (1e-5..1e-4, too slow for a small student at a few
hundred examples: everything stayed at the majority class at 3e-5) and the random-init grid's.
The summary gives mean ± sd over seeds, the paired difference agora − plain with a t interval
(95 %), and the teacher's test accuracy.

Run: `python benchmarks/agora_pretrained.py [--quick] [--seeds 0 1 2 3 4]` (see --help).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from scipy import stats

from bortnas.core.hf import shipped_minilm_folder
from bortnas.core.theta import grid
from bortnas.finetuning.agora import agora, finetune_plain
from bortnas.finetuning.classification import finetuned_teacher
from bortnas.finetuning.config import AgoraConfig
from bortnas.finetuning.tasks import load_task
from bortnas.pretraining import PretrainConfig, pretrain

METHODS = ("plain", "plain-matched", "agora")


def _pretrained_student(args: argparse.Namespace) -> Path:
    out = Path(args.work) / f"pretrained-{args.arch.replace(' ', '-')}-{args.pretrain_steps}"
    config = PretrainConfig(
        arch=args.arch,
        out=str(out),
        steps=args.pretrain_steps,
        batch_size=32,
        sequence_length=64,
        learning_rate=1e-3,
        device="cpu",
        threads=args.threads,
    )
    started = time.perf_counter()
    result = pretrain(config, on_message=lambda m: None)
    print(
        f"student 'pretrained': {args.arch} by `bortnas pretrain`, {config.total_steps} steps x "
        f"batch {config.batch_size} x length {config.sequence_length}, lr {config.learning_rate}, "
        f"{result.mode} distillation from all-MiniLM-L6-v2 on the default corpus; final loss "
        f"{result.metrics[-1]['loss']:.4f} ({time.perf_counter() - started:.0f} s this call)",
        flush=True,
    )
    return out


def _interval(differences: list[float]) -> str:
    mean = statistics.mean(differences)
    if len(differences) < 2:
        return f"{mean:+.4f} (one seed: no interval)"
    half = stats.t.ppf(0.975, len(differences) - 1) * statistics.stdev(differences)
    half /= len(differences) ** 0.5
    return f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, train 100, eval 100, test 300, 2 epochs"
    )
    parser.add_argument("--data", nargs="+", default=["wordnet", "rotten-tomatoes"])
    parser.add_argument("--students", nargs="+", default=["minilm", "pretrained"])
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--arch", default="2 4 128 256", help="shape of the pretrained student")
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--work", default="/tmp/bortnas-agora-pretrained")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--min-teacher-accuracy", type=float, default=AgoraConfig().min_teacher_accuracy
    )
    args = parser.parse_args()
    seeds = args.seeds or ([0, 1] if args.quick else [0, 1, 2, 3, 4])
    train_size = args.train_size or (100 if args.quick else 300)
    epochs = args.epochs or (2 if args.quick else 4)
    eval_size, test_size = (100, 300) if args.quick else (200, 500)
    torch.set_num_threads(args.threads)
    thetas = grid(learning_rate=[1e-4, 3e-4], batch_size=[16], seed=[0, 1], epochs=[epochs])
    started = time.perf_counter()
    print(f"command: {' '.join(sys.argv)}", flush=True)
    students = {}
    for name in args.students:
        students[name] = shipped_minilm_folder() if name == "minilm" else _pretrained_student(args)
    summary = []
    for data in args.data:
        task = load_task(data, train_size=train_size, eval_size=eval_size, test_size=test_size)
        teacher = finetuned_teacher(task.train, task.num_labels)
        teacher_test, teacher_eval = teacher.accuracy(task.test), teacher.accuracy(task.eval)
        print(
            f"\ntask {task.name} {task.label_names}: train {len(task.train)}, eval "
            f"{len(task.eval)}, test {len(task.test)}; teacher test {teacher_test:.4f}, eval "
            f"{teacher_eval:.4f}",
            flush=True,
        )
        if teacher_eval < args.min_teacher_accuracy:
            print(
                f"{task.name}: the teacher's eval accuracy is below Agora's gate "
                f"({args.min_teacher_accuracy:.3f}); Agora refuses, task skipped (more training "
                "data, or --min-teacher-accuracy 0 to run it anyway)",
                flush=True,
            )
            continue
        for student_name, student in students.items():
            scores: dict[str, list[float]] = {m: [] for m in METHODS}
            steps: dict[str, list[int]] = {m: [] for m in METHODS}
            for seed in seeds:
                settings = AgoraConfig(
                    thetas=thetas,
                    num_labels=task.num_labels,
                    min_teacher_accuracy=args.min_teacher_accuracy,
                    seed=seed,
                )
                result = agora(student, teacher, task.train, task.eval, settings, progress=False)
                matched = replace(settings, total_steps=result.steps)  # plain: Θ's first θ
                runs = {
                    "agora": result,
                    "plain": finetune_plain(
                        student, task.train, task.eval, settings, progress=False
                    ),
                    "plain-matched": finetune_plain(
                        student, task.train, task.eval, matched, progress=False
                    ),
                }
                for method in METHODS:
                    scores[method].append(runs[method].accuracy(task.test))
                    steps[method].append(runs[method].steps)
                print(
                    f"{task.name} {student_name} seed {seed}: "
                    + ", ".join(f"{m} {scores[m][-1]:.4f} ({steps[m][-1]} steps)" for m in METHODS),
                    flush=True,
                )
            summary.append((task.name, student_name, teacher_test, scores, steps))
    print(
        "\n| task | student | method | test accuracy mean ± sd | steps | agora − method [95 % CI] |"
    )
    print("|---|---|---|---|---|---|")
    for task_name, student_name, teacher_test, scores, steps in summary:
        for method in METHODS:
            values = scores[method]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            gap = (
                ""
                if method == "agora"
                else _interval([a - b for a, b in zip(scores["agora"], values, strict=True)])
            )
            print(
                f"| {task_name} | {student_name} | {method} | {statistics.mean(values):.4f} ± "
                f"{sd:.4f} | {statistics.mean(steps[method]):.0f} | {gap} |"
            )
        if student_name == list(students)[-1]:  # once per task, after its students
            print(f"| {task_name} | teacher | fine-tuned MiniLM | {teacher_test:.4f} | | |")
    for task_name, student_name, _, scores, _ in summary:
        sd = statistics.stdev(scores["plain"]) if len(scores["plain"]) > 1 else float("nan")
        gain = statistics.mean(scores["agora"]) - statistics.mean(scores["plain"])
        verdict = "met" if gain > 0 and gain >= 2 * sd else "missed"
        print(
            f"target (agora ≥ plain + 2 sd of plain): {task_name} {student_name}: gain "
            f"{gain:+.4f}, 2 sd {2 * sd:.4f}: {verdict}"
        )
    print(
        f"seeds {seeds}; train {train_size}; Θ {len(thetas)} (lr 1e-4, 3e-4 x seed 0, 1; batch 16;"
        f" {epochs} epochs); wall {time.perf_counter() - started:.0f} s; torch threads "
        f"{torch.get_num_threads()}"
    )


if __name__ == "__main__":
    main()
