"""The error model against the raw error proxy, over a whole bert-large search, with several seeds.

Usage: python benchmarks/error_model.py [--runs-dir DIR] [--seeds 4]

The search's error model (`bortnas.extraction.error_model`) fits log ê over every trained
candidate. Whether that helps can only be seen over a whole space, so this script reads (or, if
absent, runs: about 22 min on a 2-core CPU at 4 seeds) one cold bert-large search with every
candidate trained under `--seeds` seeds, and then treats each seed as one independent one-seed
search (the default) and each pair of seeds as a two-seed one. For each it prints, raw against
modelled:

* Spearman of ê against the higher-fidelity reference (`benchmarks/results/error_reference.csv`,
  24 shapes), with a 90 % bootstrap interval;
* spread / noise: the sd of the shapes' ê (all seeds) over the sd of one shape's ê across the
  one-seed searches (median over shapes), on the 24 reference shapes and on the whole space;
* the W pick of each one-seed search (p and i from the search's own table, T its maximum point),
  and Bort's rank.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from error_proxy import BORT, _interval, load_reference  # noqa: E402

from bortnas import SearchConfig, search  # noqa: E402
from bortnas.core.architecture import SYMBOLS, Architecture  # noqa: E402
from bortnas.extraction.error_model import (  # noqa: E402
    ErrorFit,
    apply_error_model,
    fit_quadratic,
    fitted_log_covariance,
)
from bortnas.extraction.ranking import ReferencePoint, rank  # noqa: E402
from bortnas.extraction.wcoefficient import (
    TIE_BAND_Z,  # noqa: E402
    w_coefficients,  # noqa: E402
)


def load_errors(
    run_dir: Path,
) -> tuple[list[tuple[int, int, int, int]], np.ndarray, list[float]]:
    """Shapes, their errors [candidate, θ, seed] and Θ's learning rates, from the search's study."""
    storage = f"sqlite:///{run_dir / 'study.db'}"
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    study = optuna.load_study(study_name=summary["study"]["name"], storage=storage)
    shapes, errors, rates = [], [], []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        error = trial.user_attrs.get("measurements", {}).get("error")
        if error is None:
            continue
        a = trial.user_attrs["architecture"]
        shapes.append((a["depth"], a["heads"], a["hidden"], a["intermediate"]))
        errors.append([theta["per_seed"] for theta in error["details"]["per_theta"]])
        rates = [theta["learning_rate"] for theta in error["details"]["per_theta"]]
    return shapes, np.array(errors, dtype=float), rates


def fitted(shapes: list[tuple[int, int, int, int]], errors: np.ndarray) -> ErrorFit:
    fit = fit_quadratic(np.array(shapes, dtype=float), errors)
    if fit is None:
        raise SystemExit("too few candidates for the error model")
    return fit


def modelled(shapes: list[tuple[int, int, int, int]], errors: np.ndarray) -> np.ndarray:
    return fitted(shapes, errors).fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs-error-model")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--reference", default="benchmarks/results/error_reference.csv")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the noise is measured across seeds)")
    run_dir = Path(args.runs_dir) / "bert-large"
    if not (run_dir / "summary.json").exists():
        print(f"no search in {run_dir}: running one ({args.seeds} seeds)", flush=True)
        search(SearchConfig(seeds=args.seeds, runs_dir=args.runs_dir, error_model="none"))
    shapes, errors, rates = load_errors(run_dir)
    # Candidates of T's size are no longer trained (W = 0 for them): an older study may hold them.
    listed = pd.read_csv(run_dir / "candidates.csv")
    keep = [n for n, s in enumerate(shapes) if s in set(map(tuple, listed[list(SYMBOLS)].values))]
    shapes, errors = [shapes[n] for n in keep], errors[keep]
    seeds = errors.shape[2]
    print(f"{run_dir}: {len(shapes)} candidates x {errors.shape[1]} θ x {seeds} seeds")
    wins = np.bincount(errors.argmin(axis=1).ravel(), minlength=len(rates))
    print(
        "best θ over every (candidate, seed): "
        + ", ".join(f"lr {rate:g} {count}" for rate, count in zip(rates, wins, strict=True))
    )

    # Each seed as a one-seed search (best θ on that seed), each pair as a two-seed one.
    single = [errors[:, :, k].min(axis=1) for k in range(seeds)]
    pairs = [errors[:, :, k : k + 2].mean(axis=2).min(axis=1) for k in range(0, seeds - 1, 2)]
    every = errors.mean(axis=2).min(axis=1)
    fitted_single = [modelled(shapes, e) for e in single]

    reference = load_reference(Path(args.reference))["embedding"]
    index = {shape: n for n, shape in enumerate(shapes)}
    common = [s for s in reference if s in index]
    rows = np.array([index[s] for s in common])
    ref_e = np.array([reference[s]["error"] for s in common])

    def spearman(values: np.ndarray) -> str:
        low, high = _interval(values[rows], ref_e, spearmanr)
        return f"{spearmanr(values[rows], ref_e).statistic:.3f} [{low:.3f}, {high:.3f}]"

    print(f"\nSpearman against the reference ({len(common)} shapes), 90 % bootstrap interval:")
    print(f"  {'search':18s} {'raw ê':>22s} {'error model':>22s}")
    for name, values in (
        *((f"one seed ({k})", v) for k, v in enumerate(single)),
        *((f"two seeds ({2 * k}, {2 * k + 1})", v) for k, v in enumerate(pairs)),
        (f"all {seeds} seeds", every),
    ):
        print(f"  {name:18s} {spearman(values):>22s} {spearman(modelled(shapes, values)):>22s}")
    fitted_every = modelled(shapes, every)
    mean_raw = np.mean([spearmanr(v[rows], ref_e).statistic for v in single])
    mean_fit = np.mean([spearmanr(v[rows], ref_e).statistic for v in fitted_single])
    print(f"  mean of the one-seed searches: raw {mean_raw:.3f}, error model {mean_fit:.3f}")
    r_squared = [fitted(shapes, e).r_squared for e in (*single, every)]
    print(
        f"  R² of the fit: one seed {np.round(r_squared[:-1], 3).tolist()}, "
        f"all {seeds} seeds {r_squared[-1]:.3f}"
    )

    print(
        "\nspread / noise (sd of ê across shapes, all seeds / median sd of one shape's one-seed ê):"
    )
    for label, subset in (("24 reference shapes", rows), (f"all {len(shapes)}", slice(None))):
        for name, runs, centre in (
            ("raw", np.array(single), every),
            ("error model", np.array(fitted_single), fitted_every),
        ):
            spread = float(np.std(centre[subset], ddof=1))
            noise = float(np.median(runs[:, subset].std(axis=0, ddof=1)))
            print(f"  {label:20s} {name:12s} {spread:.4f} / {noise:.4f} = {spread / noise:.1f}")

    table = pd.read_csv(run_dir / "candidates.csv")
    by_shape = table.set_index(list(SYMBOLS))
    p = np.array([by_shape.loc[s, "parameters"] for s in shapes], dtype=float)
    i = np.array([by_shape.loc[s, "latency_ms"] for s in shapes], dtype=float)
    t = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["reference"]
    names = [f"D{d}-A{a}-H{h}-I{m}" for d, a, h, m in shapes]
    bort = index.get(BORT)

    def pick(values: np.ndarray) -> tuple[str, str]:
        """The W argmax's name and Bort's rank, under these errors."""
        w = w_coefficients(
            p, i, values, reference_parameters=t["parameters"], reference_latency=t["latency_ms"]
        )
        order = (-w).argsort()
        bort_rank = str(int(np.where(order == bort)[0][0]) + 1) if bort is not None else "-"
        return names[order[0]], bort_rank

    def label(chosen: tuple[str, str]) -> str:
        return f"{chosen[0]} (Bort {chosen[1]})"

    raw_picks = [pick(v) for v in single]
    fit_picks = [pick(v) for v in fitted_single]
    print(f"\nW pick of each one-seed search (T = {t['name']}; Bort's rank of {len(shapes)}):")
    for k in range(seeds):
        print(f"  seed {k}: raw {label(raw_picks[k]):32s} error model {label(fit_picks[k])}")
    print(
        f"  all {seeds} seeds: raw {label(pick(every)):28s} error model {label(pick(fitted_every))}"
    )
    distinct_raw = len({name for name, _ in raw_picks})
    distinct_fit = len({name for name, _ in fit_picks})
    print(
        f"  distinct picks over the {seeds} one-seed searches: raw {distinct_raw}, "
        f"error model {distinct_fit}"
    )
    band_calibration(shapes, single, table, t)


def band_calibration(
    shapes: list[tuple[int, int, int, int]],
    single: list[np.ndarray],
    table: pd.DataFrame,
    t: dict,
) -> None:
    """Is the tie band calibrated? Each one-seed search ranked exactly as `search` ranks (the
    error model, its covariance, the latency spread), then: does each seed's band hold every
    other seed's pick, and how large is it, with and without the fit's covariance."""
    by_shape = table.set_index(list(SYMBOLS))
    reference = ReferencePoint(
        Architecture.from_dict(t["architecture"]), t["parameters"], t["latency_ms"], t["source"]
    )
    base = pd.DataFrame(
        {
            "D": [s[0] for s in shapes],
            "A": [s[1] for s in shapes],
            "H": [s[2] for s in shapes],
            "I": [s[3] for s in shapes],
            "parameters": [by_shape.loc[s, "parameters"] for s in shapes],
            "latency_ms": [by_shape.loc[s, "latency_ms"] for s in shapes],
            "latency_spread_ms": [by_shape.loc[s, "latency_spread_ms"] for s in shapes],
        },
        index=[f"D{d}-A{a}-H{h}-I{m}" for d, a, h, m in shapes],
    )
    base = base[base["parameters"] < reference.parameters]  # as the search trains them
    runs = []
    for errors in single:
        frame = base.copy()
        frame["error"] = pd.Series(errors, index=[f"D{d}-A{a}-H{h}-I{m}" for d, a, h, m in shapes])
        frame["error_seed_std"] = np.nan
        frame, _ = apply_error_model(frame, "quadratic")
        covariance = fitted_log_covariance(frame)
        runs.append((rank(frame, reference, error_covariance=covariance), rank(frame, reference)))
    name = reference.architecture.name
    print(f"\ntie band of each one-seed search ({len(base)} trained; T = {name}):")
    print(
        f"  z = {TIE_BAND_Z} (the search's); size and how many of the other seeds' picks each "
        "band holds: as the search ranks (independent noises) | with the fit's covariance"
    )
    picks = [independent.index[0] for _, independent in runs]
    held_everywhere = {"independent": True, "covariance": True}
    for k, (with_covariance, independent) in enumerate(runs):
        cells = []
        for label, ranked in (("independent", independent), ("covariance", with_covariance)):
            band = set(ranked.index[ranked["in_tie_band"]])
            held = sum(1 for j, p in enumerate(picks) if j != k and p in band)
            held_everywhere[label] &= held == len(picks) - 1
            cells.append(f"{len(band):>3} holding {held} of {len(picks) - 1}")
        print(f"  seed {k}: pick {picks[k]:<18} {cells[0]}   | {cells[1]}")
    for label, held in held_everywhere.items():
        verdict = "yes" if held else "NO"
        print(f"  every seed's band holds every other seed's pick ({label}): {verdict}")


if __name__ == "__main__":
    main()
