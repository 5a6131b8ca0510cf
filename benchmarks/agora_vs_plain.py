"""Agora vs plain fine-tuning vs the teacher, on a scarce real task, over several seeds.

Why this script: the target is "Agora clearly better than plain fine-tuning at a few
hundred labelled examples". One run, one student shape, one data split; only the students' seeds
vary. Figures are test accuracies (the test split is read once per trained model, after the
model is chosen on the eval split; nothing here is tuned on it). Methods:
- `plain`: the default θ (lr 5e-4, batch 16, 10 epochs) trained once — the baseline of the
  paper's ratio ("training once with an arbitrary θ in Θ");
- `plain-matched`: the same θ given as many optimizer steps as Agora used in total (same budget);
- `halving`: Agora's Θ pruning without generated data (successive halving over the same Θ),
  an ablation that separates the hyper-parameter search from the teacher-labelled data;
- `agora`: the full algorithm (default Θ of 8, halving, synonym + deletion generators).

Student: D2 A4 H128 I256 with a 2048-entry BPE, trained from random weights. Bort's shape
(4, 8, 1024, 768) costs ~1 s a step on 2 shared cores, too slow for 4 methods x 3 seeds here.
Teacher: all-MiniLM-L6-v2 fine-tuned on the same 300 training examples (cached).

Run: `nice -n 10 python benchmarks/agora_vs_plain.py [--data wordnet] [--seeds 0 1 2]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from bortnas.core.architecture import Architecture
from bortnas.finetuning.agora import agora, finetune_plain
from bortnas.finetuning.classification import finetuned_teacher
from bortnas.finetuning.config import AgoraConfig
from bortnas.finetuning.tasks import load_task

STUDENT = Architecture(2, 4, 128, 256, vocab_size=2048, max_positions=128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="wordnet")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # 2 shared cores: one thread avoids contention
    started = time.perf_counter()
    task = load_task(args.data, train_size=args.train_size, eval_size=200, test_size=500)
    teacher = finetuned_teacher(task.train, task.num_labels)
    teacher_test = teacher.accuracy(task.test)
    print(
        f"task {task.name} {task.label_names}: train {len(task.train)}, eval "
        f"{len(task.eval)}, test {len(task.test)}; student {STUDENT.name}; "
        f"teacher test accuracy {teacher_test:.4f} (eval {teacher.accuracy(task.eval):.4f})",
        flush=True,
    )
    rows: dict[str, list[tuple[float, float, int, int]]] = {}
    for seed in args.seeds:
        settings = AgoraConfig(num_labels=task.num_labels, seed=seed)
        agora_steps = 0
        for name in ("plain", "agora", "halving", "plain-matched"):
            if name == "plain":
                result = finetune_plain(STUDENT, task.train, task.eval, settings, progress=False)
            elif name == "agora":
                result = agora(STUDENT, teacher, task.train, task.eval, settings, progress=False)
                agora_steps = result.steps
            elif name == "halving":
                halving = replace(settings, generators=())
                result = agora(STUDENT, teacher, task.train, task.eval, halving, progress=False)
            else:  # the default θ for as many optimizer steps as Agora took in all
                matched = replace(settings, total_steps=agora_steps)
                result = finetune_plain(STUDENT, task.train, task.eval, matched, progress=False)
            test = result.accuracy(task.test)
            rows.setdefault(name, []).append(
                (test, result.eval_accuracy, result.steps, result.examples)
            )
            print(
                f"seed {seed} {name:>13}: test {test:.4f} eval {result.eval_accuracy:.4f} "
                f"steps {result.steps} examples {result.examples} rounds {len(result.rounds)} "
                f"generated {len(result.generated)}",
                flush=True,
            )
    print()
    print(
        f"{'method':>13}  {'test mean':>9}  {'sd':>6}  {'min':>6}  {'max':>6}  "
        f"{'eval mean':>9}  {'steps':>6}  {'examples':>8}"
    )
    for name in ("plain", "plain-matched", "halving", "agora"):
        tests = [r[0] for r in rows[name]]
        print(
            f"{name:>13}  {statistics.mean(tests):9.4f}  {statistics.pstdev(tests):6.4f}  "
            f"{min(tests):6.4f}  {max(tests):6.4f}  "
            f"{statistics.mean(r[1] for r in rows[name]):9.4f}  "
            f"{statistics.mean(r[2] for r in rows[name]):6.0f}  "
            f"{statistics.mean(r[3] for r in rows[name]):8.0f}"
        )
    print(f"{'teacher':>13}  {teacher_test:9.4f}")
    agora_mean = statistics.mean(r[0] for r in rows["agora"])
    for name in ("plain", "plain-matched", "halving"):
        ratio = agora_mean / statistics.mean(r[0] for r in rows[name])
        print(f"agora / {name} test accuracy ratio: {ratio:.3f}")
    print(
        f"seeds {args.seeds}; wall {time.perf_counter() - started:.0f} s; "
        f"torch threads {torch.get_num_threads()}"
    )


if __name__ == "__main__":
    main()
