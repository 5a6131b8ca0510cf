"""Fit-then-verify (the default) against training every candidate (`--train all`), side by side.

Why: a cold search used to train all 299 candidates although W uses the error model's 15-term
fit. The default now trains a designed subset, fits, and trains every candidate inside the
pick's tie band until none is predicted. This script runs both cold, one after the other, each
with a fresh measurement cache and run folder (the same settings, so the same study identity),
and prints: wall time (and its ratio: the figure that counts on a machine whose speed drifts),
candidates trained, the Spearman of the two runs' W over every candidate, the two picks, whether
each pick is inside the other's tie band, and Bort's rank in each.

Targets: wall time <= 25 % of `--train all`'s, W's Spearman >= 0.97, each pick inside the
other's band, Bort's rank within +-10.

    python benchmarks/train_design.py [--space bert-large] [--workdir /tmp/train-design]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from bortnas.core.architecture import SYMBOLS


def cold_search(workdir: Path, space: str, *extra: str) -> tuple[float, Path]:
    """One cold `bortnas search` in `workdir` (fresh cache and runs); its wall time and run dir."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    environment = {**os.environ, "BORTNAS_CACHE": str(workdir / "cache")}
    command = [
        str(Path(sys.executable).parent / "bortnas"),
        "search",
        "--space",
        space,
        "--runs-dir",
        str(workdir / "runs"),
        *extra,
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=environment, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, workdir / "runs" / space


def load(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    table = pd.read_csv(run_dir / "candidates.csv").set_index("id")
    return table, json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="bert-large")
    parser.add_argument("--workdir", default="/tmp/train-design")
    args = parser.parse_args(argv)
    root = Path(args.workdir)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} UTC, load average at start {os.getloadavg()}")
    design_seconds, design_dir = cold_search(root / "design", args.space)
    all_seconds, all_dir = cold_search(root / "all", args.space, "--train", "all")
    design, design_summary = load(design_dir)
    everything, all_summary = load(all_dir)
    common = design.index.intersection(everything.index)
    rho = spearmanr(design.loc[common, "w"], everything.loc[common, "w"]).statistic
    trained = {
        "design": int((design["error_source"] == "measured").sum()),
        "all": int((everything["error_source"] == "measured").sum()),
    }

    def pick_in_band(pick: dict, table: pd.DataFrame) -> bool:
        name = f"{pick['depth']}-{pick['heads']}-{pick['hidden']}-{pick['intermediate']}"
        rows = table[
            table[list(SYMBOLS)].astype(str).agg("-".join, axis=1) == name
        ]  # fmt: skip
        return bool(rows["in_tie_band"].iloc[0]) if len(rows) else False

    bort = (design_summary["bort"] or {}).get("rank"), (all_summary["bort"] or {}).get("rank")
    ratio = design_seconds / all_seconds
    print(f"{'':36} {'default (design)':>18} {'--train all':>14}")
    print(f"{'wall time (s)':36} {design_seconds:>18.0f} {all_seconds:>14.0f}")
    print(f"{'candidates trained':36} {trained['design']:>18} {trained['all']:>14}")
    print(f"{'pick':36} {design_summary['pick']['name']:>18} {all_summary['pick']['name']:>14}")
    print(
        f"{'tie band size':36} {len(design_summary['tie_band']):>18} "
        f"{len(all_summary['tie_band']):>14}"
    )
    in_other = (
        pick_in_band(design_summary["pick"], everything),
        pick_in_band(all_summary["pick"], design),
    )
    print(f"{'pick inside the other run band':36} {str(in_other[0]):>18} {str(in_other[1]):>14}")
    print(f"{'Bort rank':36} {bort[0]!s:>18} {bort[1]!s:>14}")
    print(
        f"{'latency calibration passed':36} {str(design_summary['latency_reliable']):>18} "
        f"{str(all_summary['latency_reliable']):>14}"
    )
    print(
        f"\nwall-time ratio {ratio:.3f} (target <= 0.25); Spearman of W over {len(common)} "
        f"candidates {rho:.4f} (target >= 0.97); Bort's rank moved by "
        f"{abs(bort[0] - bort[1]) if None not in bort else 'n/a'} (target <= 10)"
    )
    met = (
        ratio <= 0.25
        and rho >= 0.97
        and all(in_other)
        and None not in bort
        and abs(bort[0] - bort[1]) <= 10
    )
    print(f"all targets {'met' if met else 'NOT met'}; load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
