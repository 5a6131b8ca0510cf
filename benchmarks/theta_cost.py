"""What Θ costs: the default Θ trained as replicas in one pass against |Θ| = 1 and against a loop.

Why: the search trains every candidate under every θ of Θ; the replicas of one candidate share
its shape, so `proxies/student.py` stacks them and trains them in one vectorised pass. This
script times, on this machine and in this one process, for shapes of every depth:
  one θ (lr 1e-3) | the default Θ in one pass | its θ one after another,
and prints the ratios, plus the fp32 GEMM peak of one thread and the fraction of it that the
students' training reaches (the distance of the overheads from the hardware).

    nice -n 0 python benchmarks/theta_cost.py        # on a quiet machine: nothing else running
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bortnas.core.architecture import Architecture
from bortnas.core.theta import Hyperparameters
from bortnas.proxies.error import DistillationErrorProxy
from bortnas.proxies.training import DEFAULT_THETA, scaled_width

SHAPES = [
    (2, 8, 768, 256),
    (2, 16, 1024, 512),
    (4, 8, 1024, 768),  # Bort
    (6, 12, 768, 1024),
    (8, 4, 512, 3072),
    (12, 16, 1024, 3072),  # the maximum point of bert-large
]


def gemm_peak(threads: int = 1, size: int = 512, repeats: int = 30) -> float:
    """fp32 FLOP/s of one square matmul on `threads` threads (the best of `repeats`)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def training_flops(proxy: DistillationErrorProxy, architecture: Architecture) -> float:
    """Approximate FLOPs of one replica's training (forward + backward = 3 x forward matmuls)."""
    hidden, intermediate = scaled_width(architecture, proxy.width_scale)
    tokens = proxy.sequence_length * proxy.theta[0].batch_size  # padded length, an upper bound
    per_layer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * 2 * proxy.sequence_length * tokens * hidden
    head = 2 * proxy.theta[0].batch_size * hidden * 16
    return 3 * proxy.steps * (architecture.depth * (per_layer + attention) + head)


def timed(proxy: DistillationErrorProxy, architecture: Architecture) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    proxy.evaluate(architecture)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="timings per shape and variant")
    args = parser.parse_args()
    one = DistillationErrorProxy(theta=(Hyperparameters(learning_rate=1e-3),))
    data = one.prepare()
    joint_proxy = DistillationErrorProxy(theta=DEFAULT_THETA)
    joint_proxy._corpus, joint_proxy._tokenizer = one._corpus, one._tokenizer
    joint_proxy.prepare()
    n = len(DEFAULT_THETA)
    singles = []
    for setting in DEFAULT_THETA:
        single = DistillationErrorProxy(theta=(setting,))
        single._corpus, single._tokenizer, single._data = one._corpus, one._tokenizer, data
        singles.append(single)
    one.evaluate(Architecture(2, 4, 512, 256))  # warm-up: the first model in a process is slow
    peak = gemm_peak()
    print(f"fp32 GEMM peak, 1 thread (512^3 matmul, best of 30): {peak / 1e9:.1f} GFLOP/s")
    print(f"{'shape':<22}{'Θ=1 s':>8}{f'Θ={n} pass s':>12}{f'{n} x Θ=1 s':>11}{'pass/1':>8}"
          f"{'loop/pass':>10}{'GFLOP/s':>9}{'of peak':>9}")  # fmt: skip
    totals = np.zeros(3)
    for shape in SHAPES:
        architecture = Architecture(*shape)
        rows = []
        for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
            alone = timed(one, architecture)[0]
            joint = timed(joint_proxy, architecture)[0]
            loop = sum(timed(single, architecture)[0] for single in singles)
            rows.append((alone, joint, loop))
        alone, joint, loop = np.min(rows, axis=0)
        totals += (alone, joint, loop)
        rate = training_flops(one, architecture) / alone
        print(
            f"{architecture.name:<22}{alone:>8.2f}{joint:>12.2f}{loop:>11.2f}{joint / alone:>8.2f}"
            f"{loop / joint:>10.2f}{rate / 1e9:>9.2f}{rate / peak:>9.1%}"
        )
    alone, joint, loop = totals
    print(
        f"{'all shapes':<22}{alone:>8.2f}{joint:>12.2f}{loop:>11.2f}{joint / alone:>8.2f}"
        f"{loop / joint:>10.2f}"
    )
    print(f"|Θ|={n} in one pass: {joint / alone:.2f}x |Θ|=1; the loop: {loop / alone:.2f}x")


if __name__ == "__main__":
    main()
