"""`search`: the main job, from a `SearchConfig` to a pick, a tie band and a run folder.

Why one function: the CLI, the notebooks and the benchmarks all run the same pipeline — build the
proxies, choose the candidates (ε-intervals), train them under Θ through the study store, rank by
the W-coefficient, write the report — so they cannot drift apart. The algorithm's steps are
cited in `bortnas.extraction.optimizer`, its sources in docs/algorithm.md.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bortnas.proxies.base import MeasurementCache, Proxy
from bortnas.search_spaces import SearchSpace, load_space

from ..core.architecture import BERT_LARGE, Architecture
from ..core.errors import BortnasError, StoreError
from .config import SearchConfig
from .error_model import apply_error_model, fitted_log_covariance
from .evaluation import Evaluator
from .latency_quality import latency_notes
from .optimizer import (
    epsilon_representatives,
    get_strategy,
    maximum_point,
    random_sample,
    scores_zero,
)
from .ranking import ReferencePoint, bort_standing, measurement_rows, rank
from .result import SearchResult
from .setup import build_proxies, study_identity
from .store import (
    check_storage_url,
    completed_trials,
    default_storage_url,
    failed_architectures,
    is_journal_url,
    open_storage,
    open_study,
    study_name,
)
from .study_latency import study_latency
from .trials import evaluate_enqueued, evaluate_sampled
from .wcoefficient import Exponents, w_coefficients
from .workers import local_workers

#: A stage reports (stage name, done, total); the CLI draws progress from it.
StageProgress = Callable[[str, int, int], None]


def _check_run_name(name: str) -> None:
    """Run names become folder names: refuse anything that could point outside `runs_dir`."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise BortnasError(f"run name {name!r} must be a plain folder name")


def _check_runs_dir(runs_dir: str | Path) -> None:
    """The results folder, or its nearest existing parent, must be a writable folder."""
    path = Path(runs_dir).expanduser()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir() or not os.access(path, os.W_OK):
        raise StoreError(f"{runs_dir}: cannot write results here ({path} is not a writable folder)")


def _run_dir(runs_dir: str | Path, name: str) -> Path:
    _check_run_name(name)
    root = Path(runs_dir).expanduser()
    run_dir = root / name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-"):
            pass  # a probe of its own: workers starting together never share one
    except OSError as exc:
        raise StoreError(f"{run_dir}: cannot write results here ({exc.strerror})") from None
    return run_dir


def search(
    config: SearchConfig | None = None,
    *,
    space: SearchSpace | None = None,
    proxies: dict[str, Proxy] | None = None,
    on_stage: StageProgress | None = None,
    on_message: Callable[[str], None] | None = None,
    write_report: bool = True,
) -> SearchResult:
    """Run a search and return its result; the algorithm's steps are in `optimizer`.

    `space` replaces `config.space` with an already loaded space; `proxies` replaces the default
    three (same keys; it implies one worker, since injected proxies cannot be sent to other
    processes). Values are cached under `runs_dir/cache` and trials stored in `storage`, so
    re-running the same search resumes it or returns at once. `on_stage` receives progress,
    `on_message` one-line notices (which study was joined).
    """
    started = time.perf_counter()
    config = config or SearchConfig()
    space = space or load_space(config.space)
    strategy = get_strategy(config.optimizer)
    exponents = Exponents(config.alpha, config.beta, config.gamma)
    workers = config.workers or (min(2, os.cpu_count() or 1) if strategy.enumerates else 1)
    notes: list[str] = []  # what the user should know of this run; summary.json records them
    if proxies is not None or not strategy.enumerates:
        workers = 1
    elif workers > 1 and not Path(space.source).is_file():
        # Workers load the space by its path; a space built in memory has none to give them.
        notes.append("the space was not loaded from a file: trained in this process only")
        workers = 1
    steps = config.steps * strategy.steps_factor
    run_name = config.name or _default_name(space, strategy.name)
    # Cheap checks first (no connection, no write), so a typo fails before the expensive set-up.
    _check_run_name(run_name)
    _check_runs_dir(config.runs_dir)
    if config.storage:
        check_storage_url(config.storage)
    stage = on_stage or (lambda *_: None)
    message = on_message or (lambda _: None)
    if workers > 1 and is_journal_url(config.storage):
        raise StoreError(
            "a journal: store has no heartbeat, so a worker that dies would leave its candidate "
            "running forever and the others waiting on it: use --workers 1 with a journal store, "
            "or an SQLite/PostgreSQL URL"
        )

    # Nothing is written before every input is checked: the proxies' provenance reads the
    # corpus, the teacher and the tokenizer, so a bad one fails here with an empty store.
    built_here = proxies is None
    proxies = proxies if proxies is not None else build_proxies(space, config, steps)
    reference_shape = _reference_shape(config, space)
    proxies["error"].provenance()
    backend = open_storage(config.storage) if config.storage else None
    run_dir = _run_dir(config.runs_dir, run_name)
    cache = MeasurementCache(Path(config.runs_dir).expanduser() / "cache")
    if built_here and config.latency == "predicted":
        proxies["latency"].cache = cache  # attached only now that the inputs are checked
    refresh = frozenset({"latency"}) if config.remeasure else frozenset()
    evaluator = Evaluator(proxies, cache, refresh=refresh)
    seconds = evaluator.cost.seconds
    candidates = list(space.candidates)

    # The study: named by what decides its values only (not paths, hardware or versions), so
    # processes on several machines pointed at one store join the same study.
    storage_url = config.storage or default_storage_url(run_dir)
    name_of_study = study_name(
        f"{space.name}-{strategy.name}", study_identity(config, candidates, proxies)
    )
    study = open_study(
        backend or open_storage(storage_url), name_of_study, strategy.sampler(config.seed)
    )

    # Step 1: p of every candidate; i of every candidate (once per study, stored in it) where
    # the strategy needs the whole space, in a quiet phase before any training.
    clock = time.perf_counter()
    parameters = {c: evaluator.measure("parameters", c).value for c in candidates}
    seconds["parameters"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # Step 2: T, the maximum point (or the user's reference), from p and the shape alone.
    if reference_shape is None:
        reference_arch = maximum_point(candidates, parameters.__getitem__)
        source = "maximum point of the space (largest p, then most heads)"
    else:
        reference_arch, source = reference_shape, "given with --reference"
    reference_p = evaluator.measure("parameters", reference_arch).value
    zero = scores_zero(candidates, parameters.__getitem__, reference_p)
    untrained = {
        c.name: "T itself (W(T) = 0)" if c == reference_arch else "p ≥ p(T): W = 0 whatever ê"
        for c in zero
    }
    # The random baseline's sample, drawn before T is known (one spare, in case T is drawn).
    sample = random_sample(candidates, config.trials + 1, config.seed)
    if strategy.covers_space:
        needed = list(candidates)
    elif strategy.enumerates:  # a random sample: timed now, before any training
        needed = [reference_arch, *sample]
    else:  # NSGA-II times what it visits
        needed = [reference_arch]
    bert_large = Architecture(*BERT_LARGE.shape, **space.context)
    if _ranks_with_bert_large(space, bert_large, reference_shape):
        needed.append(bert_large)  # the second reading of T, from the same table
    if reference_shape is not None and reference_shape not in needed:
        needed.append(reference_shape)
    latency = study_latency(
        study,
        lambda a: evaluator.measure("latency", a),
        proxies["latency"],
        needed,
        remeasure=config.remeasure,
        measured_on=proxies["latency"].provenance(),
        on_progress=lambda done, total: stage("latency", done, total),
    )
    evaluator.proxies = {**proxies, "latency": latency}

    notes.extend(latency_notes(latency.quality))

    def latency_of(architecture: Architecture) -> float:
        return latency.evaluate(architecture).value

    reference = _reference_point(evaluator, reference_arch, source)
    seconds["latency"] = time.perf_counter() - clock

    # Step 3: the candidates to train (one per ε-interval of p, or the baseline's choice); none
    # that cannot score above 0.
    trainable = [c for c in candidates if c.name not in untrained]
    if strategy.covers_space:
        # W's parameter and latency factors: W itself with every error set to 1.
        cheap = w_coefficients(
            np.array([parameters[c] for c in trainable]),
            np.array([latency_of(c) for c in trainable]),
            np.ones(len(trainable)),
            reference_parameters=reference.parameters,
            reference_latency=reference.latency_ms,
            exponents=exponents,
        )
        selected = epsilon_representatives(
            trainable,
            config.epsilon if strategy.name == "fptas" else 1,  # the reference trains them all
            parameters.__getitem__,
            dict(zip(trainable, cheap, strict=True)).__getitem__,
        )
    elif strategy.enumerates:
        selected = [c for c in sample if c.name not in untrained][: config.trials]
    else:
        selected = []

    # Step 4: every selected candidate trained under every θ, as trials of the study.
    finished = {t.user_attrs["architecture_id"] for t in completed_trials(study)}
    if strategy.enumerates:
        finished &= {c.id for c in selected}
    if finished:
        total = len(selected) if strategy.enumerates else config.trials
        message(f"joined study {name_of_study} ({len(finished)}/{total} complete)")
    else:
        message(f"new study {name_of_study}")
    if built_here and strategy.enumerates and workers > 1:
        # Shared artefacts (corpus, tokenizer, teacher embeddings) are made once, here, before
        # any worker starts, so the workers read them from the cache instead of racing.
        proxies["error"].prepare()
    clock = time.perf_counter()
    if strategy.enumerates:
        pending = sum(1 for candidate in selected if candidate.id not in finished)
        worker_config = config.replace(space=space.source, remeasure=False)
        with local_workers(run_worker, worker_config, min(workers, pending) - 1, notes):
            evaluate_enqueued(
                study,
                space,
                evaluator,
                selected,
                on_progress=lambda n: stage("training", n, len(selected)),
            )
    else:
        evaluate_sampled(
            study,
            space,
            evaluator,
            reference_arch,
            config.trials,
            on_progress=lambda n: stage("training", n, config.trials),
        )
    seconds["training"] = time.perf_counter() - clock

    # Step 5: W relative to T, the argmax, the tie band and the front.
    trials = completed_trials(study)
    if strategy.enumerates:
        wanted = {c.id for c in selected}
        trials = [t for t in trials if t.user_attrs["architecture_id"] in wanted]
    table = measurement_rows(trials)
    if table.empty:
        raise BortnasError("no candidate could be evaluated; see the failure reasons in the store")
    # One latency table for the whole ranking: the study's epoch as stored (whoever wrote it),
    # for every row and for T, whichever process trained each candidate.
    for architecture in table["architecture"]:
        latency.evaluate(Architecture.from_dict(architecture))  # fills any miss (NSGA-II)
    latency.sync(study)
    for identifier in table.index:
        value, spread = latency.values[identifier]
        table.loc[identifier, "latency_ms"] = value
        table.loc[identifier, "latency_spread_ms"] = spread
    table, error_model = apply_error_model(table, config.error_model)
    if "skipped" in error_model:
        notes.append(f"error model {config.error_model!r} skipped: {error_model['skipped']}")
    reference = _reference_point(evaluator, reference_arch, source)
    covariance = fitted_log_covariance(table)
    table = rank(table, reference, exponents=exponents, error_covariance=covariance)
    pick = Architecture.from_dict(table.iloc[0]["architecture"])
    result = SearchResult(
        config=config,
        space=space,
        optimizer=strategy.name,
        table=table,
        reference=reference,
        pick=pick,
        steps_per_candidate=steps,
        selected=len(selected) if strategy.enumerates else config.trials,
        cost=evaluator.cost,
        failed=failed_architectures(study),
        run_dir=run_dir,
        storage=storage_url,
        study_name=name_of_study,
        seconds=0.0,
        bort=bort_standing(table, exponents.gamma),
        latency_epoch=latency.epoch,
        latency_quality=latency.quality,
        error_model=error_model,
        notes=notes,
        untrained=untrained,
    )
    if write_report:  # the main process only: workers leave the reporting to it
        result.alternative = _with_bert_large(result, evaluator, exponents, space, covariance)
    result.seconds = time.perf_counter() - started
    if write_report:
        from .report import write_outputs

        result.outputs = write_outputs(result)
    return result


def _reference_shape(config: SearchConfig, space: SearchSpace) -> Architecture | None:
    if config.reference is None:
        return None
    depth, heads, hidden, intermediate = config.reference
    return Architecture(depth, heads, hidden, intermediate, **space.context)


def _reference_point(
    evaluator: Evaluator, architecture: Architecture, source: str
) -> ReferencePoint:
    return ReferencePoint(
        architecture=architecture,
        parameters=evaluator.measure("parameters", architecture).value,
        latency_ms=evaluator.measure("latency", architecture).value,
        source=source,
    )


def _ranks_with_bert_large(
    space: SearchSpace, bert_large: Architecture, reference: Architecture | None
) -> bool:
    return bert_large != reference and max(space.dimensions["hidden"]) >= 512


def _with_bert_large(
    result: SearchResult,
    evaluator: Evaluator,
    exponents: Exponents,
    space: SearchSpace,
    covariance: Any,
) -> dict[str, Any] | None:
    """The ranking under T = BERT-large, the network Bort was extracted from (Bort-scale spaces
    only: BERT-large must be at least as large as every candidate for the reading to apply)."""
    bert_large = Architecture(*BERT_LARGE.shape, **space.context)
    if not _ranks_with_bert_large(space, bert_large, result.reference.architecture):
        return None
    reference = _reference_point(evaluator, bert_large, "BERT-large (24, 16, 1024, 4096)")
    table = rank(result.table, reference, exponents=exponents, error_covariance=covariance)
    pick = table.iloc[0]
    return {
        "reference": reference.to_dict(),
        "pick": Architecture.from_dict(pick["architecture"]).name,
        "pick_w": float(pick["w"]),
        "tie_band": int(table["in_tie_band"].sum()),
        "bort": bort_standing(table, exponents.gamma),
        "top": [Architecture.from_dict(a).name for a in table["architecture"].head(5)],
    }


def _default_name(space: SearchSpace, optimizer: str) -> str:
    return space.name if optimizer == "fptas" else f"{space.name}-{optimizer}"


def run_worker(config: SearchConfig) -> None:
    """What a local worker process runs: the same search, one worker, no report of its own."""
    search(config.replace(workers=1), write_report=False)
