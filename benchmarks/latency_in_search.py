"""The search's latency path on a busy and on a quiet machine, against direct interleaved timings.

Why: the latency table was validated alone in its own process, which is not what a search sees.
This script runs the latency path exactly as `bortnas search` calls it (the proxy that
`build_proxies` makes for the default `SearchConfig`, through `study_latency` into an in-memory
Optuna study, T and BERT-large included) in fresh processes, with 0 and then 1 busy core beside
it (a plain Python loop, as a build or a browser tab would be), and compares it with direct
timings of full models taken in interleaved rounds on the quiet machine.

W sees latency only as i/i_T, so that is what is compared: each shape's i/i_T from the search's
path against the direct one (relative difference), and W's speed factor 1 − i/i_T (absolute
difference). Targets: within 10 % and 0.03 quiet, 20 % and 0.05 with one busy core. Absolute
milliseconds are printed but not judged (this machine's speed drifts between minutes).

    python benchmarks/latency_in_search.py [--rounds 10] [--busy 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any

SHAPES = {
    "smallest": (2, 4, 512, 256),
    "Bort": (4, 8, 1024, 768),
    "bort_2_16": (2, 16, 1024, 512),
    "middle": (6, 8, 768, 1024),
    "deep": (10, 12, 768, 3072),
    "T": (12, 16, 1024, 3072),
}

_SEARCH_PATH = """
import json, sys, optuna
from bortnas import Architecture, SearchConfig, load_space
from bortnas.core.architecture import BERT_LARGE
from bortnas.extraction.setup import build_proxies
from bortnas.extraction.study_latency import study_latency
optuna.logging.set_verbosity(optuna.logging.ERROR)
space = load_space("bert-large")
proxy = build_proxies(space, SearchConfig(), 100)["latency"]
needed = [*space.candidates, Architecture(*BERT_LARGE.shape, **space.context)]
study = optuna.create_study(directions=["minimize"] * 3)
latency = study_latency(study, proxy.evaluate, proxy, needed, remeasure=False,
                        measured_on=proxy.provenance())
shapes = json.loads(sys.argv[1])
print(json.dumps({"ms": {k: latency.evaluate(Architecture(*v)).value for k, v in shapes.items()},
                  "quality": latency.quality}))
"""

_DIRECT = """
import json, sys, torch
from bortnas import Architecture
from bortnas.proxies.latency import LatencySettings, build_model, model_inputs
from bortnas.proxies.timing import time_in_rounds
shapes = json.loads(sys.argv[1])
s = LatencySettings(batch_size=1, sequence_length=128, device="cpu", threads=None, warmup=2,
                    repeat=1, min_run_time=0.1)
s.warm_up()
runs = {}
for key, shape in shapes.items():
    a = Architecture(*shape)
    runs[key] = s.runner(build_model(a, "cpu"), **model_inputs(a, 1, 128, "cpu"))
timings, _ = time_in_rounds(runs, device="cpu", threads=s.threads, warmup=2,
                            rounds=int(sys.argv[2]))
print(json.dumps({"ms": {k: t.min_ms for k, t in timings.items()}}))
"""


def in_fresh_process(child: str, *argv: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", child, *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def busy_cores(count: int):
    """`count` processes spinning a plain Python loop for as long as the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def compare(search: dict[str, float], direct: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for key in SHAPES:
        mine, truth = search[key] / search["T"], direct[key] / direct["T"]
        rows.append(
            {
                "shape": key,
                "search_ms": search[key],
                "direct_ms": direct[key],
                "search_ratio": mine,
                "direct_ratio": truth,
                "ratio_error": mine / truth - 1,
                "speed_factor_error": abs((1 - mine) - (1 - truth)),
            }
        )
    return rows


def report(label: str, rows: list[dict[str, Any]], quality: dict[str, Any], limits) -> bool:
    ratio_limit, factor_limit = limits
    print(f"\n{label}")
    print(f"  {'shape':<10} {'search ms':>10} {'direct ms':>10} {'i/i_T search':>13} "
          f"{'i/i_T direct':>13} {'rel. diff':>10} {'|Δ speed f.|':>13}")  # fmt: skip
    for r in rows:
        print(
            f"  {r['shape']:<10} {r['search_ms']:>10.1f} {r['direct_ms']:>10.1f} "
            f"{r['search_ratio']:>13.4f} {r['direct_ratio']:>13.4f} "
            f"{100 * r['ratio_error']:>9.1f}% {r['speed_factor_error']:>13.4f}"
        )
    worst_ratio = max(abs(r["ratio_error"]) for r in rows)
    worst_factor = max(r["speed_factor_error"] for r in rows)
    ok = worst_ratio <= ratio_limit and worst_factor <= factor_limit
    probe = quality.get("probe", {})
    print(
        f"  worst: {100 * worst_ratio:.1f} % on i/i_T (target {100 * ratio_limit:.0f} %), "
        f"{worst_factor:.4f} on the speed factor (target {factor_limit}): "
        + ("met" if ok else "MISSED")
    )
    print(
        f"  calibration {'passed' if quality.get('passed') else 'FAILED'}: scale "
        f"{quality.get('scale', 0):.3f}, exponent {quality.get('exponent', 0):.3f}, worst "
        f"leave-one-out {100 * (quality.get('max_loo_relative_error') or 0):.1f} %, "
        f"{quality.get('retimed')} re-timing(s); probe speed-up {probe.get('speedup')}x, "
        f"drift {probe.get('drift')}x, busy={probe.get('busy')}"
    )
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the direct timings")
    parser.add_argument("--busy", type=int, default=1, help="busy cores in the loaded run")
    args = parser.parse_args(argv)
    shapes = json.dumps(SHAPES)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} UTC, load average at start {os.getloadavg()}")
    started = time.perf_counter()
    direct = in_fresh_process(_DIRECT, shapes, str(args.rounds))["ms"]
    quiet = in_fresh_process(_SEARCH_PATH, shapes)
    quiet_again = in_fresh_process(_SEARCH_PATH, shapes)
    with busy_cores(args.busy):
        loaded = in_fresh_process(_SEARCH_PATH, shapes)
        direct_loaded = in_fresh_process(_DIRECT, shapes, str(args.rounds))["ms"]
    results = [
        report("search path, quiet machine", compare(quiet["ms"], direct),
               quiet["quality"], (0.10, 0.03)),
        report("search path, quiet machine, a second cold process", compare(
            quiet_again["ms"], direct), quiet_again["quality"], (0.10, 0.03)),
        report(f"search path, {args.busy} busy core(s) beside it", compare(loaded["ms"], direct),
               loaded["quality"], (0.20, 0.05)),
    ]  # fmt: skip
    print("\ndirect timings under the same load, for reference (i/i_T against the quiet ones):")
    for key in SHAPES:
        loaded_ratio = direct_loaded[key] / direct_loaded["T"]
        print(
            f"  {key:<10} {direct_loaded[key]:>8.1f} ms  i/i_T {loaded_ratio:.4f}"
            f" (quiet {direct[key] / direct['T']:.4f})"
        )
    print(
        f"\nall targets {'met' if all(results) else 'NOT met'}; "
        f"{time.perf_counter() - started:.0f} s; load average at end {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
