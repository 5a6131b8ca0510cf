"""The study store: every evaluation is a trial of an Optuna study, in any Optuna storage.

Why Optuna and not a home-made queue: its RDB storages (SQLite by default, PostgreSQL/MySQL by
URL) already give atomic hand-out of enqueued trials to many processes, heartbeats that fail the
trials of a dead worker, and a retry callback that re-enqueues them. bortnas only decides *which*
candidates to enqueue and how to name a study so that the same settings resume the same study.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import time
import warnings
from collections import Counter
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from ..core.architecture import DIMENSIONS, Architecture
from ..core.errors import StoreError
from ..core.files import content_digest

OBJECTIVES = ("parameters", "latency", "error")
#: A worker's heartbeat period and the silence after which its trial is failed and retried
#: (`BORTNAS_GRACE_SECONDS` overrides the latter, e.g. for tests that kill workers on purpose).
GRACE_SECONDS = max(2, int(os.environ.get("BORTNAS_GRACE_SECONDS", "20")))
HEARTBEAT_SECONDS = max(1, min(5, GRACE_SECONDS // 3))
#: How often a candidate whose evaluation failed is tried again before it is recorded as failed.
MAX_RETRIES = 2

optuna.logging.set_verbosity(optuna.logging.ERROR)


def default_storage_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def is_journal_url(url: str | None) -> bool:
    """Optuna's journal storage (a file log without heartbeats): `journal:PATH` or `*.log`."""
    return bool(url) and (url.startswith("journal:") or url.endswith((".log", ".journal")))


def mask_url(url: str | None) -> str | None:
    """`url` with its password replaced by ***: how a storage URL is shown and stored anywhere
    (console, errors, summary.json). Run folders get shared, attached to reports, committed."""
    if not url or is_journal_url(url) or url.startswith("sqlite"):
        return url
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: mask what looks like user:password@
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def scrub(text: str, url: str | None) -> str:
    """`text` (a driver's error, say) with the URL's password removed wherever it appears."""
    if not url:
        return text
    try:
        password = sqlalchemy.engine.make_url(url).password
    except Exception:
        match = re.search(r"//[^:/@]*:([^@]*)@", url)
        password = match.group(1) if match else None
    raw = re.search(r"//[^:/@]*:([^@]*)@", url)
    text = text.replace(url, mask_url(url) or "")
    for secret in {password, raw.group(1) if raw else None} - {None, ""}:
        text = text.replace(str(secret), "***")
    return text


def check_storage_url(url: str) -> None:
    """What can be checked of a storage URL without connecting or writing: its form, and for a
    file store its folder. Run before any expensive set-up, so a typo fails in a second."""
    if is_journal_url(url):
        folder = Path(url.removeprefix("journal:").removeprefix("//")).expanduser().parent
    elif url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
    else:
        try:
            sqlalchemy.engine.make_url(url)
        except Exception as exc:  # SQLAlchemy's ArgumentError and friends: a malformed URL
            raise StoreError(
                f"cannot open study storage {mask_url(url)!r}: {scrub(str(exc), url)}"
            ) from None
        return
    if not folder.is_dir():
        raise StoreError(f"{url}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise StoreError(f"{url}: folder {folder} is not writable")


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for `url`: an RDB URL (with heartbeats) or `journal:PATH` / `*.log`."""
    check_storage_url(url)
    try:
        if is_journal_url(url):
            path = url.removeprefix("journal:").removeprefix("//")
            return JournalStorage(JournalFileBackend(path))
        return _open_rdb(url)
    except StoreError:
        raise
    except ImportError as exc:
        raise StoreError(
            f"storage {mask_url(url)!r} needs a database driver: {scrub(str(exc), url)}"
        ) from None
    except Exception as exc:  # SQLAlchemy/driver errors: an unreachable or malformed URL
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot open study storage {mask_url(url)!r}: {scrub(first_line, url)}"
        ) from None


def _open_rdb(url: str, attempts: int = 5) -> RDBStorage:
    """Open an RDB storage; retry when workers started together race to create its tables."""
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna (v2.8+)
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES
                    ),
                    engine_kwargs={"pool_pre_ping": True},
                )
            if url.startswith("sqlite"):
                _tune_sqlite(storage)
            return storage
        except (
            sqlalchemy.exc.IntegrityError,
            sqlalchemy.exc.OperationalError,
            sqlalchemy.exc.ProgrammingError,  # PostgreSQL: DuplicateTable while another creates it
            sqlite3.OperationalError,  # the switch to WAL, refused at once inside another's write
        ) as exc:
            # Another worker is creating the same schema ("already exists", a unique version
            # row, "database is locked"): wait and open what it made. Anything else is final.
            text = str(exc).lower()
            racing = any(word in text for word in ("already exists", "unique", "locked"))
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def _tune_sqlite(storage: RDBStorage) -> None:
    """Make SQLite safe and quick for several local workers.

    Safe: Python's sqlite3 driver runs a SELECT outside any transaction and only opens one before
    the UPDATE, so two workers could both read the same waiting trial and both take it (SQLite
    ignores Optuna's SELECT ... FOR UPDATE). Every transaction therefore starts with
    BEGIN IMMEDIATE, which takes the write lock first (SQLAlchemy's documented recipe).
    Quick: write-ahead logging without an fsync per commit (a commit is still atomic on a crash).
    The switch to WAL is stored in the file, so it is made once, here: SQLite refuses it at once,
    without the busy wait, while another worker is inside a transaction, and `_open_rdb` retries
    it then. A connection opened later only sets its own lock-free settings, so it cannot fail.
    """

    def on_connect(connection: Any, _: Any) -> None:
        connection.isolation_level = None  # let the "begin" hook below open transactions
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")  # first: wait for a lock, never fail at once
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    sqlalchemy.event.listen(storage.engine, "connect", on_connect)
    sqlalchemy.event.listen(storage.engine, "begin", on_begin)
    storage.engine.dispose()  # reconnect, so the hooks apply to every connection
    connection = storage.engine.raw_connection()  # no "begin" hook: outside a transaction
    try:
        connection.cursor().execute("PRAGMA journal_mode=WAL").close()
    finally:
        connection.close()


def study_name(prefix: str, settings: dict[str, Any]) -> str:
    """`prefix-<hash of settings>`: the same settings resume the same study, others start anew."""
    return f"{prefix}-{content_digest(settings, 10)}"


def open_study(
    storage: optuna.storages.BaseStorage, name: str, sampler: optuna.samplers.BaseSampler
) -> optuna.Study:
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=["minimize"] * len(OBJECTIVES),
        sampler=sampler,
        load_if_exists=True,
    )
    if study.metric_names is None:  # named columns in optuna-dashboard and trials_dataframe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["parameters", "latency_ms", "error"])
    return study


def architecture_params(architecture: Architecture) -> dict[str, int]:
    return {key: getattr(architecture, key) for key in DIMENSIONS}


def trial_architecture_id(trial: FrozenTrial) -> str | None:
    return trial.user_attrs.get("architecture_id")


def enqueue_candidates(study: optuna.Study, candidates: list[Architecture]) -> int:
    """Enqueue every candidate that is not done, waiting, running, or out of retries.

    Returns how many were enqueued. Optuna hands each waiting trial to exactly one worker.
    """
    trials = [t for t in study.get_trials(deepcopy=False) if is_work_trial(t)]
    settled = {
        trial_architecture_id(t)
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    }
    failures = Counter(trial_architecture_id(t) for t in trials if _is_failure(t))
    enqueued = 0
    for architecture in candidates:
        if architecture.id in settled or failures.get(architecture.id, 0) > MAX_RETRIES:
            continue
        study.enqueue_trial(
            architecture_params(architecture),
            user_attrs={"architecture_id": architecture.id},
        )
        enqueued += 1
    return enqueued


def is_work_trial(trial: FrozenTrial) -> bool:
    """A trial that trains a candidate (under every θ), not one added to record another θ."""
    return "theta_of_trial" not in trial.user_attrs


def theta_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Every completed (ξ, θ) trial, the first of each pair should a retry have made two."""

    def pair(trial: FrozenTrial) -> tuple[str, int] | None:
        architecture_id = trial_architecture_id(trial)
        if architecture_id is None:
            return None
        return architecture_id, trial.user_attrs.get("theta_index", 0)

    return _first_completed(study, pair)


def _first_completed(
    study: optuna.Study, key: Callable[[FrozenTrial], Hashable | None]
) -> list[FrozenTrial]:
    """The first completed trial of each key; trials whose key is None are left out."""
    seen: set[Hashable] = set()
    unique = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        identity = key(trial)
        if identity is not None and identity not in seen:
            seen.add(identity)
            unique.append(trial)
    return unique


def _is_failure(trial: FrozenTrial) -> bool:
    """A failed evaluation (an error, or a worker that died), not a trial that stepped aside."""
    return trial.state == TrialState.FAIL and "skipped" not in trial.user_attrs


def count_states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def completed_trials(study: optuna.Study) -> list[FrozenTrial]:
    """One completed work trial per architecture (the first, should a race have made two)."""
    return _first_completed(study, lambda t: trial_architecture_id(t) if is_work_trial(t) else None)


def failed_architectures(study: optuna.Study) -> dict[str, str]:
    """Architectures out of retries, with the last failure reason."""
    reasons: dict[str, list[str]] = {}
    done = {trial_architecture_id(t) for t in completed_trials(study)}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        key = trial_architecture_id(trial)
        if key is not None and key not in done and _is_failure(trial):
            reasons.setdefault(key, []).append(trial.user_attrs.get("fail_reason", "worker died"))
    return {key: values[-1] for key, values in reasons.items() if len(values) > MAX_RETRIES}
