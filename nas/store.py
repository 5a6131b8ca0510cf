"""The study store: every evaluation is a trial of an Optuna study, in any Optuna storage.

Why Optuna and not a home-made queue: its RDB storages (SQLite by default, PostgreSQL/MySQL by
URL) already give atomic hand-out of enqueued trials to many processes, heartbeats that fail the
trials of a dead worker, and a retry callback that re-enqueues them. bortnas only decides *which*
candidates to enqueue and how to name a study so that the same settings resume the same study.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from bortnas.architecture import Architecture
from bortnas.errors import StoreError

OBJECTIVES = ("parameters", "latency", "error")
DIMENSIONS = ("depth", "heads", "hidden", "intermediate")
#: A worker's heartbeat period and the silence after which its trial is failed and retried.
HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 20
#: How often a candidate whose evaluation failed is tried again before it is recorded as failed.
MAX_RETRIES = 2

optuna.logging.set_verbosity(optuna.logging.ERROR)


def default_storage_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for `url`: an RDB URL (with heartbeats) or `journal:PATH` / `*.log`."""
    try:
        if url.startswith("journal:") or url.endswith((".log", ".journal")):
            path = url.removeprefix("journal:").removeprefix("//")
            return JournalStorage(JournalFileBackend(path))
        if url.startswith("sqlite:///"):
            folder = Path(url.removeprefix("sqlite:///")).parent
            if not folder.is_dir():
                raise StoreError(f"{url}: folder {folder} does not exist")
            if not os.access(folder, os.W_OK):
                raise StoreError(f"{url}: folder {folder} is not writable")
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since v2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                    max_retry=MAX_RETRIES
                ),
                engine_kwargs={"pool_pre_ping": True},
            )
    except StoreError:
        raise
    except ImportError as exc:
        raise StoreError(f"storage {url!r} needs a database driver: {exc}") from None
    except Exception as exc:  # SQLAlchemy/driver errors: an unreachable or malformed URL
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot open study storage {url!r}: {first_line}") from None


def study_name(prefix: str, settings: dict[str, Any]) -> str:
    """`prefix-<hash of settings>`: the same settings resume the same study, others start anew."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    return f"{prefix}-{digest.hexdigest()[:10]}"


def open_study(
    storage: optuna.storages.BaseStorage, name: str, sampler: optuna.samplers.BaseSampler
) -> optuna.Study:
    return optuna.create_study(
        storage=storage,
        study_name=name,
        directions=["minimize"] * len(OBJECTIVES),
        sampler=sampler,
        load_if_exists=True,
    )


def architecture_params(architecture: Architecture) -> dict[str, int]:
    return {key: getattr(architecture, key) for key in DIMENSIONS}


def trial_architecture_id(trial: FrozenTrial) -> str | None:
    return trial.user_attrs.get("architecture_id")


def enqueue_candidates(study: optuna.Study, candidates: list[Architecture]) -> int:
    """Enqueue every candidate that is not done, waiting, running, or out of retries.

    Returns how many were enqueued. Optuna hands each waiting trial to exactly one worker.
    """
    trials = study.get_trials(deepcopy=False)
    settled = {
        trial_architecture_id(t)
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    }
    failures = Counter(trial_architecture_id(t) for t in trials if t.state == TrialState.FAIL)
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


def count_states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def completed_trials(study: optuna.Study) -> list[FrozenTrial]:
    """One completed trial per architecture (the first, should a race have made two)."""
    seen: set[str] = set()
    unique = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        key = trial_architecture_id(trial)
        if key is not None and key not in seen:
            seen.add(key)
            unique.append(trial)
    return unique


def failed_architectures(study: optuna.Study) -> dict[str, str]:
    """Architectures out of retries, with the last failure reason."""
    reasons: dict[str, list[str]] = {}
    done = {trial_architecture_id(t) for t in completed_trials(study)}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        key = trial_architecture_id(trial)
        if key is not None and key not in done:
            reasons.setdefault(key, []).append(trial.user_attrs.get("fail_reason", "worker died"))
    return {key: values[-1] for key, values in reasons.items() if len(values) > MAX_RETRIES}
