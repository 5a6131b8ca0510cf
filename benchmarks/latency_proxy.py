"""Validate the predicted latency against measurement, and time BERT-large, BERT-base and Bort.

Why a script and not a test: the figures depend on the machine and its load, so they are
printed as ratios measured in one run, with the load average at start and end.

Prints: Spearman rank correlation and MAPE between predicted and measured latency on random
candidates of a space (targets: >= 0.95 and <= 10 %); the wall time to score the whole space by
each method (the measured one extrapolated from the sample's mean cost); the ratio of one
architecture measured in two separate processes and the median per-candidate difference of two
cold predicted tables built in separate processes (target: within 10 %); and the latency of
BERT-large, BERT-base and Bort at the default settings, with the ratios the paper speaks of.

    python benchmarks/latency_proxy.py --samples 20 --seed 0
    python benchmarks/latency_proxy.py --samples 20 --seed 0 --runtime onnxruntime
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from bortnas import BERT_BASE, BERT_LARGE, BORT, load_space
from bortnas.proxies.base import MeasurementCache
from bortnas.proxies.latency import RUNTIMES, MeasuredLatencyProxy
from bortnas.proxies.latency_table import PredictedLatencyProxy

_CHILD = """
import json, sys
from bortnas import Architecture
from bortnas.proxies.latency import MeasuredLatencyProxy
arch = Architecture.from_dict(json.loads(sys.argv[1]))
m = MeasuredLatencyProxy(threads=int(sys.argv[2]), runtime=sys.argv[3]).evaluate(arch)
print(json.dumps({"value": m.value, "spread": m.spread, "runs": m.details["runs"]}))
"""

_CHILD_TABLE = """
import json, sys, tempfile
from bortnas import load_space
from bortnas.proxies.base import MeasurementCache
from bortnas.proxies.latency_table import PredictedLatencyProxy
with tempfile.TemporaryDirectory() as folder:
    proxy = PredictedLatencyProxy(
        space=sys.argv[1], threads=int(sys.argv[2]), cache=MeasurementCache(folder),
        runtime=sys.argv[3],
    )
    values = {a.id: proxy.evaluate(a).value for a in load_space(sys.argv[1]).candidates}
    c = proxy.calibrate()
    fit = f"{c['scale']:.3f} x sum^{c['exponent']:.3f}"
    print(json.dumps({"values": values, "calibration": fit}))
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def in_fresh_process(child: str, *argv: str) -> dict[str, Any]:
    """Run `child` in a fresh interpreter (its own warm-up, its own process state, cold caches)
    and return the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-c", child, *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="random candidates to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", default="bert-large")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's threads")
    parser.add_argument("--runtime", default="eager", choices=RUNTIMES)
    args = parser.parse_args(argv)

    print(f"load average at start: {load()}")
    space = load_space(args.space).candidates
    measured = MeasuredLatencyProxy(threads=args.threads, runtime=args.runtime)
    threads = measured.settings.threads
    fp = measured.settings.fingerprint
    print(
        f"hardware: {fp['cpu']}, {fp['cores']} cores, {threads} threads, torch {fp['torch']}, "
        f"transformers {fp['transformers']}; batch {fp['batch_size']}, "
        f"seq {fp['sequence_length']}; runtime {args.runtime}"
    )

    with tempfile.TemporaryDirectory() as folder:  # cold caches: nothing from earlier runs
        cache = MeasurementCache(folder)
        started = time.perf_counter()
        predictor = PredictedLatencyProxy(
            space=args.space, threads=threads, cache=cache, runtime=args.runtime
        )
        predicted_all = {a: predictor.evaluate(a).value for a in space}
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = PredictedLatencyProxy(
            space=args.space, threads=threads, cache=cache, runtime=args.runtime
        )
        for a in space:
            again.evaluate(a)
        warm = time.perf_counter() - started
        calibration = predictor.calibrate()

    names = [point["architecture"] for point in calibration["points"]]
    print(
        f"\npredicted: calibrated on {len(names)} full models ({', '.join(names)}): "
        f"{calibration['scale']:.3f} x sum^{calibration['exponent']:.3f}, "
        f"RMS residual {calibration['rms_ms']:.1f} ms, gate "
        + ("passed" if calibration["passed"] else "FAILED")
    )
    sample = random.Random(args.seed).sample(space, args.samples)
    print(f"\nmeasuring {len(sample)} random {args.space} candidates (seed {args.seed}):")
    truth, guess, seconds = [], [], []
    for arch in sample:
        started = time.perf_counter()
        value = measured.evaluate(arch).value
        seconds.append(time.perf_counter() - started)
        truth.append(value)
        guess.append(predicted_all[arch])
        print(
            f"  {arch.name:<22} measured {value:8.1f} ms  predicted {guess[-1]:8.1f} ms  "
            f"({100 * (guess[-1] / value - 1):+5.1f} %)  cost {seconds[-1]:.1f} s"
        )
    rho = spearmanr(truth, guess).statistic
    mape = 100 * float(np.mean(np.abs(np.asarray(guess) / np.asarray(truth) - 1)))
    overlap = len(set(sample) & set(predictor.calibration_set()))
    print(
        f"\nSpearman (predicted vs measured, n={len(sample)}): {rho:.3f}   (target >= 0.95)\n"
        f"MAPE: {mape:.1f} %   (target <= 10 %)   "
        f"[{overlap} of the sample are also calibration points]"
    )
    per_arch = float(np.mean(seconds))
    print(
        f"\nwall time to score all {len(space)} candidates:\n"
        f"  predicted, cold caches (layer table + calibration): {cold:.1f} s\n"
        f"  predicted, from the disk cache (new proxy):          {warm:.2f} s\n"
        f"  measured: ~{per_arch * len(space) / 60:.1f} min (EXTRAPOLATED: {len(space)} x the "
        f"sample's mean cost {per_arch:.2f} s per candidate)\n"
        f"  measured/predicted (cold): ~{per_arch * len(space) / cold:.0f}x"
    )

    # Two 'cold runs': a whole predicted table, empty cache, each in its own process.
    runs = [in_fresh_process(_CHILD_TABLE, args.space, str(threads), args.runtime) for _ in "ab"]
    ids = sorted(runs[0]["values"])
    a = np.array([runs[0]["values"][i] for i in ids])
    b = np.array([runs[1]["values"][i] for i in ids])
    relative = np.abs(a / b - 1)
    print(
        f"\nrepeatability of the predicted table, two cold runs in separate processes "
        f"({len(ids)} candidates; calibrations {runs[0]['calibration']} and "
        f"{runs[1]['calibration']}):"
        f"\n  median relative difference {100 * np.median(relative):.1f} % (target <= 10 %), "
        f"90th percentile {100 * np.quantile(relative, 0.9):.1f} %, "
        f"max {100 * relative.max():.1f} %"
        f"\n  Spearman between the two runs: {spearmanr(a, b).statistic:.3f}"
    )
    # W sees latency only through (i_T - i) / i_T, T being the slowest point: a drift that scales
    # every timing alike cancels there. How much of the difference survives into W's factor:
    factor_a, factor_b = 1 - a / a.max(), 1 - b / b.max()
    shift = np.abs(factor_a - factor_b)
    print(
        f"  W's latency factor (i_T - i)/i_T: median absolute difference {np.median(shift):.3f}, "
        f"max {shift.max():.3f} (the factor spans {factor_a.min():.2f} to {factor_a.max():.2f})"
    )

    bort = json.dumps(BORT.to_dict())
    first, second = (in_fresh_process(_CHILD, bort, str(threads), args.runtime) for _ in "ab")
    ratio = second["value"] / first["value"]
    print(
        f"\nrepeatability, {BORT.name} in two separate processes: {first['value']:.1f} ms and "
        f"{second['value']:.1f} ms, ratio {ratio:.3f} ({100 * abs(ratio - 1):.1f} % apart; "
        "target within 10 %)"
    )

    print(
        f"\nat the defaults (batch {fp['batch_size']}, seq {fp['sequence_length']}, {threads} "
        "threads, Bort's context), measured:"
    )
    named = {"BERT-large": BERT_LARGE, "BERT-base": BERT_BASE, "Bort": BORT}
    values = {}
    for label, arch in named.items():
        m = measured.evaluate(arch)
        values[label] = m.value
        print(
            f"  {label:<10} {arch.name:<22} {m.value:8.1f} ms  (IQR {m.spread:.1f} ms, "
            f"{m.details['runs']} runs)  predicted {predicted_all.get(arch, float('nan')):.1f} ms"
        )
    print(
        f"  BERT-large/Bort: {values['BERT-large'] / values['Bort']:.1f}x   "
        f"BERT-base/Bort: {values['BERT-base'] / values['Bort']:.1f}x   "
        "(paper, CPU: 20x and 7.9x)"
    )
    print(f"\nload average at end: {load()}")


if __name__ == "__main__":
    main()
