"""Benchmark of the error proxy at its default fidelity: rank fidelity, separation, cost.

Why these figures (issue 4): the search trains all 630 bert-large candidates, so the default
budget must be cheap (target <= 5 s per candidate; ~3 s at version 2's defaults), rank
architectures as a 10x longer budget does (Spearman >= 0.8), and separate them well beyond seed
noise (spread across architectures / seed noise >= 5). Costs are wall seconds in this process (the
machine may be shared; CPU seconds of this thread are printed too).
Run: `nice -n 10 python benchmarks/error_proxy.py`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import spearmanr

from bortnas.architecture import Architecture
from bortnas.proxies.error import DEFAULT_STEPS, DistillationErrorProxy

ARCHITECTURES = [
    (4, 8, 1024, 768),  # Bort
    (2, 16, 1024, 512),  # bort_2_16_512_1024
    (24, 16, 1024, 4096),  # BERT-large
    (12, 12, 768, 3072),  # BERT-base-like
    (2, 4, 512, 256),
    (8, 8, 768, 1024),
    (16, 4, 512, 2048),
    (6, 16, 768, 256),
    (20, 8, 512, 4096),
    (10, 8, 1024, 2048),
]
SPACE_SIZE = 630


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="seeds at the default budget")
    parser.add_argument("--factor", type=int, default=10, help="longer budget = factor x steps")
    args = parser.parse_args()
    archs = [Architecture(*shape) for shape in ARCHITECTURES]

    started = time.perf_counter()
    default = DistillationErrorProxy(seeds=args.seeds)
    default._prepare()  # cold one-off costs: corpus, tokenizer, teacher embeddings
    setup = time.perf_counter() - started
    short, seconds, cpu = {}, [], []
    for arch in archs:
        t, c = time.perf_counter(), time.thread_time()
        short[arch] = default.evaluate(arch).details["per_seed"]
        seconds.append((time.perf_counter() - t) / args.seeds)
        cpu.append((time.thread_time() - c) / args.seeds)
        print(
            f"  default {arch.name:22s} {np.round(short[arch], 4)} {seconds[-1]:.2f} s/seed",
            flush=True,
        )
    long_proxy = DistillationErrorProxy(steps=DEFAULT_STEPS * args.factor, seeds=1)
    long = {}
    for arch in archs:
        long[arch] = long_proxy.evaluate(arch).value
        print(f"  {args.factor}x     {arch.name:22s} {long[arch]:.4f}", flush=True)

    values = np.array([short[a] for a in archs])
    means = values.mean(1)
    noise = float(np.sqrt(np.mean(values.var(1, ddof=1)))) if args.seeds > 1 else float("nan")
    spread = float(means.std())
    longs = np.array([long[a] for a in archs])
    rho_seed0 = spearmanr(values[:, 0], longs).statistic
    rho_mean = spearmanr(means, longs).statistic
    per_candidate = float(np.mean(seconds)) + setup / SPACE_SIZE

    print(
        f"\nerror proxy, default fidelity: {default.steps} steps, batch {default.batch_size}, "
        f"sequence {default.sequence_length}, lr {default.learning_rate}, width scale "
        f"{default.width_scale}, target components {default.target_components}; "
        f"{len(archs)} architectures; longer budget {args.factor}x steps"
    )
    print(
        f"{'architecture':24s} {'default (mean of seeds)':>24s} {'rank':>5s} "
        f"{str(args.factor) + 'x budget':>10s} {'rank':>5s}"
    )
    short_rank = means.argsort().argsort() + 1
    long_rank = longs.argsort().argsort() + 1
    for k in np.argsort(means):
        print(
            f"{archs[k].name:24s} {means[k]:14.4f} ± {values[k].std():.4f} {short_rank[k]:5d} "
            f"{longs[k]:10.4f} {long_rank[k]:5d}"
        )
    print(
        f"Spearman default (seed 0) vs {args.factor}x: {rho_seed0:.3f}   "
        f"(mean of {args.seeds} seeds vs {args.factor}x: {rho_mean:.3f})   target >= 0.8"
    )
    print(
        f"spread across architectures / seed noise: {spread:.4f} / {noise:.4f} = "
        f"{spread / noise:.1f}   target >= 5"
    )
    print(
        f"seconds per candidate (one seed, setup {setup:.1f} s amortised over {SPACE_SIZE}): "
        f"{per_candidate:.2f} s wall, {np.mean(cpu):.2f} s CPU of this thread   target <= 5 s"
    )
    print(
        f"projected cold bert-large search ({SPACE_SIZE} candidates): "
        f"{per_candidate * SPACE_SIZE / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
