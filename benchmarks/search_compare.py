"""FPTAS vs exhaustive reference vs Optuna NSGA-II vs random, over the same proxies, in one run.

Why: issue 5's claim is that the FPTAS finds the reference pick (or one within its ε guarantee)
for far fewer training steps, and that at an equal budget its front is at least as good as
NSGA-II's. "Exhaustive" is the expensive reference: every candidate trained at 10x the FPTAS
budget. Each method runs in its own folder (no shared cache), so the training steps printed are
what each really paid. Hypervolumes are of each method's own front, on objectives divided by the
maximum point T's values, with the reference point (1.1, 1.1, 1.1) x the largest ratio seen.

    python benchmarks/search_compare.py                     # the documented bert-large subset
    python benchmarks/search_compare.py --space bert-large  # all 630 candidates (hours)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bortnas import load_space
from bortnas.pareto import hypervolume
from bortnas.search import search

HERE = Path(__file__).resolve().parent
OBJECTIVES = ["parameters", "latency_ms", "error"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=str(HERE / "bert_large_subset.toml"))
    parser.add_argument(
        "--trials", type=int, default=None, help="nsga2/random (default: |space|/3)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    space = load_space(args.space)
    trials = args.trials or max(4, space.size // 3)
    print(f"space {space.name}: {space.size} candidates; nsga2/random trials {trials}")

    results, seconds = {}, {}
    for optimizer in ("fptas", "exhaustive", "nsga2", "random"):
        folder = Path(tempfile.mkdtemp(prefix=f"compare-{optimizer}-"))
        started = time.perf_counter()
        results[optimizer] = search(
            space,
            optimizer=optimizer,
            trials=trials,
            seed=args.seed,
            runs_dir=folder,
            workers=args.workers,
            write_report=False,
        )
        seconds[optimizer] = time.perf_counter() - started
        print(f"  {optimizer:<10} done in {seconds[optimizer]:7.1f} s", flush=True)

    reference = results["exhaustive"].table
    best = reference["w"].min()
    largest = 0.0
    ratios = {}
    for optimizer, result in results.items():
        table = result.table
        t_values = table.loc[result.reference.id, OBJECTIVES].to_numpy(float)
        ratios[optimizer] = table[table["on_front"]][OBJECTIVES].to_numpy(float) / t_values
        largest = max(largest, float(ratios[optimizer].max()))
    point = np.full(3, 1.1 * largest)

    print()
    header = (
        f"{'method':<11}{'evaluated':>10}{'steps/cand':>11}{'steps':>10}{'wall s':>9}"
        f"{'pick':>22}{'W_ref(pick)/W_ref*':>20}{'front':>7}{'hypervolume':>13}"
    )
    print(header)
    for optimizer, result in results.items():
        pick = result.pick
        w_ref = reference.loc[pick.id, "w"] / best if pick.id in reference.index else float("nan")
        print(
            f"{optimizer:<11}{len(result.table):>10}{result.steps_per_candidate:>11}"
            f"{result.study_training_steps:>10}{seconds[optimizer]:>9.1f}{pick.name:>22}"
            f"{w_ref:>20.4f}{len(ratios[optimizer]):>7}"
            f"{hypervolume(ratios[optimizer], point):>13.4f}"
        )
    fptas, exhaustive = results["fptas"], results["exhaustive"]
    print()
    print(f"reference pick (exhaustive, 10x budget): {exhaustive.pick.name}")
    print(f"FPTAS pick equals the reference pick: {fptas.pick == exhaustive.pick}")
    steps_ratio = exhaustive.study_training_steps / max(1, fptas.study_training_steps)
    print(f"training steps, exhaustive / FPTAS: {steps_ratio:.1f}x   (target >= 5x)")
    print(
        "hypervolume, FPTAS / NSGA-II: "
        f"{hypervolume(ratios['fptas'], point) / hypervolume(ratios['nsga2'], point):.3f}   "
        f"(FPTAS trains {len(fptas.table)} candidates, NSGA-II {len(results['nsga2'].table)})"
    )


if __name__ == "__main__":
    main()
