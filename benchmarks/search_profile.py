"""Where a cold search spends its time: set-up, latency, training (and inside it), store, report.

Why: the cold `bortnas search` misses its 5-minute target on 2 cores; removing overheads needs a
measured breakdown first. This runs one cold search in this one process (one worker, so that
the profile sees all the work), under cProfile, with a fresh cache and run folder, and prints:
- wall time per stage, cut at the search's own progress lines (before the latency table's
  first line, until training starts, training, and what follows: ranking, report and store);
- inside the whole run, the cumulative time of the functions that carry each concern (corpus,
  tokenizer, teacher embeddings, forward and loss, backward, the optimizer, held-out evaluation,
  the Optuna store, the report), each as a share of the wall time.

    python benchmarks/search_profile.py                       # the 48-candidate subset, s = 100
    python benchmarks/search_profile.py --space bert-large    # the whole space (~7 min)

Run it on a quiet machine: nothing else heavy at the same time (two cores).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

SUBSET = Path(__file__).with_name("bert_large_subset.toml")

#: Optuna's storage calls (the RDB backend under Optuna's cache): the store's own cost.
STORAGE_CALLS = (
    "create_new_trial",
    "set_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "get_all_trials",
    "record_heartbeat",
    "create_new_study",
    "get_study_id_from_name",
)

#: concern -> (file fragment, function name) whose cumulative time stands for it.
CONCERNS = {
    "corpus (read, clean, split)": ("text/corpus.py", "load_corpus"),
    "tokenizer (train BPE)": ("text/tokenizer.py", "train_tokenizer"),
    "teacher embeddings": ("proxies/teacher.py", "embed"),
    "latency table + calibration": ("extraction/study_latency.py", "study_latency"),
    "training, all of it": ("proxies/replicas.py", "train"),
    "  forward + loss": ("proxies/replicas.py", "_losses"),
    "  backward": ("torch/_tensor.py", "backward"),
    "  optimizer (fused AdamW per replica)": ("proxies/student.py", "step"),
    "  held-out evaluation": ("proxies/replicas.py", "_held_out"),
    "Optuna storage (SQLite calls)": ("optuna/storages/_rdb/storage.py", STORAGE_CALLS),
    "report (tables, plots)": ("extraction/report.py", "write_outputs"),
}


def cumulative(stats: pstats.Stats, fragment: str, names: str | tuple[str, ...]) -> float:
    """Cumulative seconds of the functions `names` defined in a file matching `fragment`."""
    names = (names,) if isinstance(names, str) else names
    total = 0.0
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if function in names and filename.replace(os.sep, "/").endswith(fragment):
            total += row[3]  # cumulative time
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=str(SUBSET), help="a built-in space or a TOML file")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--top", type=int, default=15, help="also print the top-N functions")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="profile-") as folder:
        os.environ["BORTNAS_CACHE"] = str(Path(folder) / "cache")  # cold: nothing cached
        from bortnas import SearchConfig, search

        config = SearchConfig(
            space=args.space, steps=args.steps, workers=1, runs_dir=str(Path(folder) / "runs")
        )
        first_seen: dict[str, float] = {}
        last_seen: dict[str, float] = {}

        def on_stage(stage: str, _done: int, _total: int) -> None:
            now = time.perf_counter()
            first_seen.setdefault(stage, now)
            last_seen[stage] = now

        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        result = search(config, on_stage=on_stage)
        profile.disable()
        ended = time.perf_counter()

    wall = ended - started
    latency_start = first_seen.get("latency", started)
    training_start = first_seen.get("training", last_seen.get("latency", latency_start))
    training_end = last_seen.get("training", training_start)
    print(
        f"cold search of {args.space} ({len(result.table)} trained, s = {args.steps}, "
        f"|Θ| = {len(config.theta)}, one worker, profiled): {wall:.1f} s wall"
    )
    print("stages (wall, cut at the progress lines; the first latency line comes after the")
    print("table's first entry, so the profile below splits set-up from latency better):")
    for label, seconds in (
        ("until the first latency progress line", latency_start - started),
        ("from there until training starts", training_start - latency_start),
        ("training (all candidates)", training_end - training_start),
        ("after training (ranking, report, store)", ended - training_end),
    ):
        print(f"  {label:<44}{seconds:>8.1f} s {seconds / wall:>7.1%}")
    stats = pstats.Stats(profile)
    print("inside the run (cumulative time of the function that carries each concern):")
    for label, (fragment, names) in CONCERNS.items():
        seconds = cumulative(stats, fragment, names)
        print(f"  {label:<44}{seconds:>8.1f} s {seconds / wall:>7.1%}")
    print(f"top {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"(cProfile adds overhead to Python-heavy code; load average {os.getloadavg()[0]:.2f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
