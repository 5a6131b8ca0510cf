"""`search`: the main job, from a `SearchConfig` to a pick, a tie band and a run folder.

Why one function: the CLI, the notebooks and the benchmarks all run the same pipeline, so they
cannot drift apart. It is a short sequence of stages named after the algorithm's steps
(docs/algorithm.md): the strategy (`strategies.py`) decides what to time and what to train, the
run (`run.py`) holds the state, and the stages below only move the work along.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bortnas.proxies.base import MeasurementCache, Proxy
from bortnas.search_spaces import SearchSpace, load_space

from ..core.architecture import BERT_LARGE, Architecture
from ..core.errors import StoreError
from .config import SearchConfig
from .evaluation import Evaluator
from .latency_quality import latency_notes
from .optimizer import maximum_point, scores_zero
from .ranking import ReferencePoint, bort_standing, rank
from .result import SearchResult
from .run import SearchRun, StageProgress, check_run_name, check_runs_dir, make_run_dir
from .scaling_law import parse_budgets
from .sensitivity import error_readings, sensitivity_rows
from .setup import build_proxies, study_identity
from .store import (
    check_storage_url,
    default_storage_url,
    failed_architectures,
    is_journal_url,
    open_storage,
    open_study,
    study_name,
)
from .strategies import get_strategy
from .study_latency import study_latency
from .wcoefficient import Exponents
from .workers import local_workers


def search(
    config: SearchConfig | None = None,
    *,
    space: SearchSpace | None = None,
    proxies: dict[str, Proxy] | None = None,
    on_stage: StageProgress | None = None,
    on_message: Callable[[str], None] | None = None,
    write_report: bool = True,
) -> SearchResult:
    """Run a search and return its result.

    `space` replaces `config.space` with an already loaded space; `proxies` replaces the default
    three (same keys; it implies one worker, since injected proxies cannot be sent to other
    processes). Values are cached under `runs_dir/cache` and trials stored in `storage`, so
    re-running the same search resumes it or returns at once. `on_stage` receives progress,
    `on_message` one-line notices (which study was joined).
    """
    started = time.perf_counter()
    config = config or SearchConfig()
    run = open_run(config, space or load_space(config.space), proxies, on_stage, on_message)
    seconds = run.evaluator.cost.seconds
    clock = time.perf_counter()
    measure_parameters(run)  # step 1: p of every candidate (exact)
    choose_reference(run)  # step 2: T, and the candidates that cannot score above 0
    seconds["parameters"] = time.perf_counter() - clock
    clock = time.perf_counter()
    time_latency(run)  # step 1: i, once per study, in a quiet phase before any training
    seconds["latency"] = time.perf_counter() - clock
    clock = time.perf_counter()
    train_candidates(run, workers=_workers(config, run, proxies))  # steps 3-4
    seconds["training"] = time.perf_counter() - clock
    table, error_model = run.rank()  # step 5: W relative to T, the band, the front
    if "skipped" in error_model:
        run.notes.append(f"error model {config.error_model!r} skipped: {error_model['skipped']}")
    measured = table[table["error_source"] != "predicted"]  # the pick is never a guess
    result = SearchResult(
        config=config,
        space=run.space,
        optimizer=run.strategy.name,
        table=table,
        reference=run.reference,
        pick=Architecture.from_dict(measured.iloc[0]["architecture"]),
        steps_per_candidate=run.steps,
        selected=len(measured),
        cost=run.evaluator.cost,
        failed=failed_architectures(run.study),
        run_dir=run.run_dir,
        storage=run.storage_url,
        study_name=run.study_name,
        seconds=0.0,
        bort=bort_standing(table, run.exponents.gamma),
        latency_epoch=run.latency.epoch,
        latency_quality=run.latency.quality,
        error_model=error_model,
        notes=run.notes,
        untrained=run.untrained,
    )
    if write_report:  # the main process only: workers leave the reporting to it
        result.alternative = with_bert_large(run, result)
        result.sensitivity = sensitivity(run, result)
    result.seconds = time.perf_counter() - started
    if write_report:
        from .report import write_outputs

        result.outputs = write_outputs(result)
    return result


def open_run(
    config: SearchConfig,
    space: SearchSpace,
    proxies: dict[str, Proxy] | None,
    on_stage: StageProgress | None,
    on_message: Callable[[str], None] | None,
) -> SearchRun:
    """Check every input (cheap checks first, nothing written before all pass), then open the
    study: named by what decides its values only, so machines pointed at one store share it."""
    strategy = get_strategy(config.optimizer)
    run_name = config.name or strategy.run_name(space.name)
    check_run_name(run_name)
    check_runs_dir(config.runs_dir)
    if config.storage:
        check_storage_url(config.storage)
    if (config.workers or 1) > 1 and is_journal_url(config.storage):
        raise StoreError(
            "a journal: store has no heartbeat, so a worker that dies would leave its candidate "
            "running forever and the others waiting on it: use --workers 1 with a journal store, "
            "or an SQLite/PostgreSQL URL"
        )
    steps = config.steps * strategy.steps_factor
    built_here = proxies is None
    proxies = proxies if proxies is not None else build_proxies(space, config, steps)
    proxies["error"].provenance()  # reads corpus, teacher and tokenizer: a bad one fails here
    backend = open_storage(config.storage) if config.storage else None
    run_dir = make_run_dir(config.runs_dir, run_name)
    cache = MeasurementCache(Path(config.runs_dir).expanduser() / "cache")
    if built_here and config.latency == "predicted":
        proxies["latency"].cache = cache  # attached only now that the inputs are checked
    refresh = frozenset({"latency"}) if config.remeasure else frozenset()
    candidates = list(space.candidates)
    storage_url = config.storage or default_storage_url(run_dir)
    name = study_name(f"{space.name}-{strategy.name}", study_identity(config, candidates, proxies))
    study = open_study(backend or open_storage(storage_url), name, strategy.sampler(config.seed))
    return SearchRun(
        config=config,
        space=space,
        strategy=strategy,
        exponents=Exponents(config.alpha, config.beta, config.gamma),
        proxies=proxies,
        evaluator=Evaluator(proxies, cache, refresh=refresh),
        study=study,
        study_name=name,
        storage_url=storage_url,
        run_dir=run_dir,
        stage=on_stage or (lambda *_: None),
        message=on_message or (lambda _: None),
        steps=steps,
        candidates=candidates,
    )


def measure_parameters(run: SearchRun) -> None:
    run.parameters = {c: run.evaluator.measure("parameters", c).value for c in run.candidates}


def choose_reference(run: SearchRun) -> None:
    """T from p and the shape alone (or `--reference`); candidates of T's size score 0."""
    if run.config.reference is None:
        architecture = maximum_point(run.candidates, run.parameters.__getitem__)
        source = "maximum point of the space (largest p, then most heads)"
    else:
        architecture = Architecture(*run.config.reference, **run.space.context)
        source = "given with --reference"
    p_t = run.evaluator.measure("parameters", architecture).value
    run.reference = ReferencePoint(architecture, p_t, float("nan"), source)
    for c in scores_zero(run.candidates, run.parameters.__getitem__, p_t):
        run.untrained[c.name] = "T itself (W(T) = 0)" if c == architecture else "p ≥ p(T): W = 0"
    run.trainable = [c for c in run.candidates if c.name not in run.untrained]
    if not run.trainable:
        run.notes.append("every candidate is at least as large as T: nothing can score above 0")


def time_latency(run: SearchRun) -> None:
    """The study's latency epoch for what the strategy needs, T and BERT-large included."""
    needed = run.strategy.latency_needed(run)
    for extra in (run.reference.architecture, _bert_large(run)):
        if extra is not None and extra not in needed:
            needed.append(extra)
    proxy = run.proxies["latency"]
    run.latency = study_latency(
        run.study,
        lambda a: run.evaluator.measure("latency", a),
        proxy,
        needed,
        remeasure=run.config.remeasure,
        measured_on=proxy.provenance(),
        on_progress=lambda done, total: run.stage("latency", done, total),
    )
    run.evaluator.proxies = {**run.proxies, "latency": run.latency}
    run.notes.extend(latency_notes(run.latency.quality))
    run.reference = _reference_point(run, run.reference.architecture, run.reference.source)


def train_candidates(run: SearchRun, workers: int) -> None:
    """Steps 3-4: the strategy's batches, trained under every θ, as trials of the study."""
    done = len(run.trained_ids())
    run.message(
        f"joined study {run.study_name} ({done} done)" if done else f"new study {run.study_name}"
    )
    worker_config = run.config.replace(space=run.space.source, remeasure=False)
    with ExitStack() as stack:

        def start(pending: int) -> None:
            if min(workers, pending) < 2:
                return
            # Shared artefacts (corpus, tokenizer, teacher embeddings) are made once, here,
            # before any worker starts, so the workers read them from the cache, not racing.
            run.proxies["error"].prepare()
            extra = min(workers, pending) - 1
            stack.enter_context(local_workers(run_worker, worker_config, extra, run.notes))

        run.start_workers = start
        run.strategy.train(run)


def with_bert_large(run: SearchRun, result: SearchResult) -> dict[str, Any] | None:
    """The ranking under T = BERT-large, the network Bort was extracted from (Bort-scale spaces
    only: BERT-large must be at least as large as every candidate for the reading to apply)."""
    bert_large = _bert_large(run)
    if bert_large is None or bert_large == result.reference.architecture:
        return None
    reference = _reference_point(run, bert_large, "BERT-large (24, 16, 1024, 4096)")
    table = rank(result.table, reference, exponents=run.exponents)
    pick = table.iloc[0]
    return {
        "reference": reference.to_dict(),
        "pick": Architecture.from_dict(pick["architecture"]).name,
        "pick_w": float(pick["w"]),
        "tie_band": int(table["in_tie_band"].sum()),
        "bort": bort_standing(table, run.exponents.gamma),
        "top": [Architecture.from_dict(a).name for a in table["architecture"].head(5)],
    }


def sensitivity(run: SearchRun, result: SearchResult) -> list[dict[str, Any]]:
    """The pick, band and Bort's rank under every reading of ê and both readings of T."""
    references = result.references()
    readings = error_readings(
        result.table,
        law=run.config.law,
        budgets=parse_budgets(run.config.budget),
        reference_errors=run.config.reference_errors,
    )
    return sensitivity_rows(result.table, references, readings, run.exponents)


def _bert_large(run: SearchRun) -> Architecture | None:
    if max(run.space.dimensions["hidden"]) < 512:
        return None
    return Architecture(*BERT_LARGE.shape, **run.space.context)


def _reference_point(run: SearchRun, architecture: Architecture, source: str) -> ReferencePoint:
    return ReferencePoint(
        architecture=architecture,
        parameters=run.evaluator.measure("parameters", architecture).value,
        latency_ms=run.evaluator.measure("latency", architecture).value,
        source=source,
    )


def _workers(config: SearchConfig, run: SearchRun, proxies: dict[str, Proxy] | None) -> int:
    """Local processes: one per core (at most 2) by default; one with injected proxies (they
    cannot be sent to other processes) or a space without a file to hand them."""
    workers = config.workers or min(2, os.cpu_count() or 1)
    if proxies is not None or not run.strategy.parallel:
        return 1
    if workers > 1 and not Path(run.space.source).is_file():
        run.notes.append("the space was not loaded from a file: trained in this process only")
        return 1
    return workers


def run_worker(config: SearchConfig) -> None:
    """What a local worker process runs: the same search, one worker, no report of its own."""
    search(config.replace(workers=1), write_report=False)
