"""`bortnas.search`: the main job, from a space to a pick, a Pareto front and a run folder.

Why one function: the CLI, the notebooks and the benchmarks all run the same pipeline — build the
proxies, run the chosen strategy through the study store, score by the W-coefficient, write the
report — so they cannot drift apart. The FPTAS steps are cited in `bortnas.optimizer`.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bortnas.architecture import Architecture
from bortnas.cache import MeasurementCache
from bortnas.errors import BortnasError, StoreError
from bortnas.evaluation import Cost, Evaluator
from bortnas.optimizer import (
    DEFAULT_EPSILON,
    DEFAULT_INTERVAL,
    get_strategy,
    maximum_point,
    training_budget,
)
from bortnas.pareto import non_dominated_mask
from bortnas.proxies.base import Proxy
from bortnas.proxies.parameters import ParameterProxy, count_parameters
from bortnas.search_spaces import SearchSpace, load_space
from bortnas.store import (
    completed_trials,
    default_storage_url,
    failed_architectures,
    open_storage,
    open_study,
    study_name,
)
from bortnas.trials import evaluate_enqueued, evaluate_sampled
from bortnas.wcoefficient import DEFAULT_EXPONENTS, Exponents, w_coefficients

#: A stage reports (stage name, done, total); the CLI draws progress bars from it.
StageProgress = Callable[[str, int, int], None]


@dataclass
class SearchResult:
    """Everything a search produced; `table` holds one row per evaluated candidate, best W first."""

    space: SearchSpace
    optimizer: str
    settings: dict[str, Any]
    table: pd.DataFrame
    reference: Architecture
    pick: Architecture
    steps_per_candidate: int
    cost: Cost
    failed: dict[str, str]
    run_dir: Path
    storage: str
    study_name: str
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def study_training_steps(self) -> int:
        """Training steps the study's trials paid, across every worker and every run."""
        return int(self.table["training_steps"].sum())

    @property
    def front(self) -> pd.DataFrame:
        return self.table[self.table["on_front"]].sort_values("parameters")

    def row(self, architecture: Architecture) -> pd.Series:
        return self.table.loc[architecture.id]


def default_base_steps() -> int:
    """Steps at ε = s = 1, so that the default ε gives the error proxy's default budget."""
    from bortnas.proxies.error import DEFAULT_STEPS

    return max(1, round(DEFAULT_STEPS * DEFAULT_EPSILON))


def default_width_scale(space: SearchSpace) -> int:
    """The error proxy's width scale for a space: its narrowest hidden size trains as narrow as
    bert-large's does at the proxy's default (512 / 16 = 32), so every space gets the same
    fidelity per candidate and small spaces (tiny: H = 32) are not shrunk below recognition."""
    from bortnas.proxies.error import DEFAULT_WIDTH_SCALE

    reference_width = 512 / DEFAULT_WIDTH_SCALE
    return max(1, int(min(space.dimensions["hidden"]) // reference_width))


def build_proxies(
    space: SearchSpace,
    *,
    steps: int,
    latency: str,
    latency_options: dict[str, Any],
    error_options: dict[str, Any],
    include_embeddings: bool,
) -> dict[str, Proxy]:
    """The three proxies of a search, in the objective order of the study.

    The predicted latency proxy calibrates on this space; it starts without a disk cache, which
    `search` attaches once nothing can fail any more. Invalid knobs (a zero width scale, say) are
    user mistakes and raise `BortnasError`.
    """
    from bortnas.proxies.error import DistillationErrorProxy
    from bortnas.proxies.latency import make_latency_proxy

    error_options = {"width_scale": default_width_scale(space), **error_options}
    latency_knobs = dict(latency_options)
    if latency == "predicted":
        latency_knobs.setdefault("space", space)
        latency_knobs.setdefault("cache", None)
    try:
        return {
            "parameters": ParameterProxy(include_embeddings=include_embeddings),
            "error": DistillationErrorProxy(steps=steps, **error_options),
            "latency": make_latency_proxy(latency, **latency_knobs),
        }
    except (ValueError, TypeError) as exc:
        if isinstance(exc, BortnasError):
            raise
        raise BortnasError(f"invalid proxy setting: {exc}") from None


def _check_run_name(name: str) -> None:
    """Run names become folder names: refuse anything that could point outside `runs_dir`."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise BortnasError(f"run name {name!r} must be a plain folder name")


def _run_dir(runs_dir: str | Path, name: str) -> Path:
    _check_run_name(name)
    root = Path(runs_dir).expanduser()
    run_dir = root / name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"{run_dir}: cannot write results here ({exc.strerror})") from None
    return run_dir


def search(
    space: str | Path | SearchSpace = "bert-large",
    *,
    optimizer: str = "fptas",
    epsilon: float = DEFAULT_EPSILON,
    interval: float = DEFAULT_INTERVAL,
    base_steps: int | None = None,
    exponents: Exponents = DEFAULT_EXPONENTS,
    latency: str = "predicted",
    latency_options: dict[str, Any] | None = None,
    error_options: dict[str, Any] | None = None,
    include_embeddings: bool = True,
    trials: int = 60,
    seed: int = 0,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    storage: str | None = None,
    remeasure: frozenset[str] = frozenset(),
    workers: int | None = None,
    proxies: dict[str, Proxy] | None = None,
    on_stage: StageProgress | None = None,
    write_report: bool = True,
) -> SearchResult:
    """Run a search and return its result; see `bortnas.optimizer` for the algorithm's steps.

    `epsilon` and `interval` (ε, s) set the training budget per candidate; `trials` applies to
    the `random` and `nsga2` baselines. `workers` local processes share the training (default:
    one per CPU core, at most 2, for strategies that enumerate the space; 1 otherwise, so that
    training never runs beside a latency measurement). `proxies` replaces the default three (same
    keys; it implies one worker, since injected proxies cannot be sent to other processes). Values
    are cached under `runs_dir/cache`, trials stored in `storage` (default: an SQLite file in the
    run folder), so re-running the same command resumes or returns at once.
    """
    started = time.perf_counter()
    space = space if isinstance(space, SearchSpace) else load_space(space)
    strategy = get_strategy(optimizer)
    if trials < 1:
        raise BortnasError(f"--trials must be positive, got {trials}")
    if workers is not None and not 1 <= workers <= 64:
        raise BortnasError(f"--workers must be between 1 and 64, got {workers}")
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if strategy.covers_space else 1
    if proxies is not None:
        workers = 1
    worker_arguments = {
        "space": space.source,
        "optimizer": optimizer,
        "epsilon": epsilon,
        "interval": interval,
        "base_steps": base_steps,
        "exponents": exponents,
        "latency": latency,
        "latency_options": latency_options,
        "error_options": error_options,
        "include_embeddings": include_embeddings,
        "trials": trials,
        "seed": seed,
        "name": name,
        "runs_dir": runs_dir,
        "storage": storage,
        "workers": 1,
        "write_report": False,
    }
    base = base_steps if base_steps is not None else default_base_steps()
    steps = training_budget(epsilon, interval, base) * strategy.steps_factor
    run_name = name or _default_name(space, optimizer)
    _check_run_name(run_name)
    stage = on_stage or (lambda *_: None)

    # Nothing is written before every input is checked: the proxies' provenance reads the
    # corpus, the teacher and the tokenizer, so a bad one fails here with an empty store.
    built_here = proxies is None
    if proxies is None:
        proxies = build_proxies(
            space,
            steps=steps,
            latency=latency,
            latency_options=latency_options or {},
            error_options=error_options or {},
            include_embeddings=include_embeddings,
        )
    proxies["error"].provenance()
    backend = open_storage(storage) if storage else None  # an unreachable store fails here
    run_dir = _run_dir(runs_dir, run_name)
    cache = MeasurementCache(Path(runs_dir).expanduser() / "cache")
    if built_here and latency == "predicted":
        # The layer table and calibration live in the run's cache, attached only now that the
        # inputs are checked (creating the cache folder is a write).
        proxies["latency"].cache = cache
    evaluator = Evaluator(proxies, cache, refresh=frozenset(remeasure))
    seconds = evaluator.cost.seconds  # wall time per stage, reported in summary.json

    # Step 1: the cheap proxies of every candidate (latency for every candidate only where the
    # strategy enumerates the space; sampling baselines pay only for what they visit).
    candidates = list(space.candidates)
    clock = time.perf_counter()
    parameters = {c: evaluator.measure("parameters", c).value for c in candidates}
    seconds["parameters"] = time.perf_counter() - clock
    latencies: dict[Architecture, float] = {}

    def latency_of(architecture: Architecture) -> float:
        if architecture not in latencies:
            latencies[architecture] = evaluator.measure("latency", architecture).value
        return latencies[architecture]

    clock = time.perf_counter()
    if strategy.covers_space:
        for done, candidate in enumerate(candidates, 1):
            latency_of(candidate)
            stage("latency", done, len(candidates))
    seconds["latency"] = time.perf_counter() - clock

    # Step 2: the maximum point T.
    reference = maximum_point(candidates, parameters.__getitem__, latency_of)

    # Step 3: every selected candidate trained at the budget, as trials of the study.
    settings = {
        "space": space.name,
        "space_candidates": [c.id for c in candidates],
        "optimizer": strategy.name,
        "epsilon": epsilon,
        "interval": interval,
        "base_steps": base,
        "steps_per_candidate": steps,
        "trials": None if strategy.covers_space else trials,
        "seed": seed,
        "proxies": evaluator.provenance(),
    }
    storage_url = storage or default_storage_url(run_dir)
    name_of_study = study_name(f"{space.name}-{strategy.name}", settings)
    backend = backend or open_storage(storage_url)
    study = open_study(backend, name_of_study, strategy.sampler(seed))
    clock = time.perf_counter()
    if strategy.select is not None:
        selected = strategy.select(candidates, reference, trials, seed)
        done = {t.user_attrs["architecture_id"] for t in completed_trials(study)}
        pending = sum(1 for candidate in selected if candidate.id not in done)
        with local_workers(worker_arguments, min(workers, pending) - 1):
            evaluate_enqueued(
                study,
                space,
                evaluator,
                selected,
                on_progress=lambda done: stage("error", done, len(selected)),
            )
    else:
        evaluate_sampled(
            study,
            space,
            evaluator,
            reference,
            trials + 1,
            on_progress=lambda done: stage("error", done, trials + 1),
        )
    seconds["error"] = time.perf_counter() - clock

    # Step 4: W-coefficients relative to T, the argmin, and the Pareto front.
    table = results_table(study, exponents, reference)
    if table.empty or reference.id not in table.index:
        raise BortnasError("no candidate could be evaluated; see the failure reasons in the store")
    pick_row = table.iloc[0]
    pick = Architecture.from_dict(pick_row["architecture"])
    result = SearchResult(
        space=space,
        optimizer=strategy.name,
        settings={k: v for k, v in settings.items() if k != "space_candidates"}
        | {"exponents": exponents.__dict__, "storage": storage_url},
        table=table,
        reference=reference,
        pick=pick,
        steps_per_candidate=steps,
        cost=evaluator.cost,
        failed=failed_architectures(study),
        run_dir=run_dir,
        storage=storage_url,
        study_name=name_of_study,
        seconds=time.perf_counter() - started,
    )
    if write_report:
        from bortnas.report import write_outputs

        result.outputs = write_outputs(result)
    return result


def _worker_main(arguments: dict[str, Any]) -> None:
    search(**arguments)


@contextmanager
def local_workers(arguments: dict[str, Any], count: int) -> Iterator[None]:
    """Run `count` extra worker processes of the same search beside this one.

    Why processes: training is compute-bound and each worker trains on one thread, so two
    workers use both cores of a laptop. They are ordinary workers of the same study (the same
    settings give the same study name), started after step 1 so they find the cheap proxies in
    the cache; Optuna hands each candidate to one of them.
    """
    if count < 1:
        yield
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    processes = [context.Process(target=_worker_main, args=(arguments,)) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join()
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        warnings.warn(f"{len(failed)} local worker(s) exited with {failed}", stacklevel=2)


def _default_name(space: SearchSpace, optimizer: str) -> str:
    return space.name if optimizer == "fptas" else f"{space.name}-{optimizer}"


def results_table(study: Any, exponents: Exponents, reference: Architecture) -> pd.DataFrame:
    """One row per completed candidate: dimensions, proxy values, W, and Pareto membership."""
    rows = []
    for trial in completed_trials(study):
        measurements = trial.user_attrs["measurements"]
        architecture = trial.user_attrs["architecture"]
        count = count_parameters(Architecture.from_dict(architecture))
        rows.append(
            {
                "id": trial.user_attrs["architecture_id"],
                "D": architecture["depth"],
                "A": architecture["heads"],
                "H": architecture["hidden"],
                "I": architecture["intermediate"],
                "parameters": measurements["parameters"]["value"],
                "parameters_total": count.total,
                "parameters_without_embeddings": count.without_embeddings,
                "latency_ms": measurements["latency"]["value"],
                "latency_spread_ms": measurements["latency"].get("spread"),
                "error": measurements["error"]["value"],
                "error_spread": measurements["error"].get("spread"),
                "trial": trial.number,
                "training_steps": trial.user_attrs.get("training_steps", 0),
                "architecture": architecture,
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.set_index("id", drop=False)
    objectives = table[["parameters", "latency_ms", "error"]].to_numpy(dtype=float)
    if reference.id not in table.index:
        return table
    reference_values = table.loc[reference.id, ["parameters", "latency_ms", "error"]].to_numpy(
        dtype=float
    )
    table["w"] = w_coefficients(objectives, reference_values, exponents)
    table["on_front"] = non_dominated_mask(objectives)
    table["is_reference"] = table.index == reference.id
    return table.sort_values(["w", "parameters"], kind="stable")
