"""Running evaluations as Optuna trials: the work loop every worker process executes.

Why `study.optimize` with enqueued trials: Optuna pops each waiting trial for exactly one worker,
keeps its heartbeat while the (long) training runs, fails trials whose worker died and re-enqueues
them through the storage's retry callback. This module only adds what Optuna does not know:
which architecture a trial is, stopping when the queue is empty, and a bounded number of retries
of a failing evaluation with its reason recorded.
"""

from __future__ import annotations

import datetime
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from bortnas.search_spaces import SearchSpace

from ..core.architecture import DIMENSIONS
from ..core.errors import BortnasError
from .evaluation import Evaluator
from .store import (
    GRACE_SECONDS,
    HEARTBEAT_SECONDS,
    OBJECTIVES,
    completed_trials,
    count_states,
    enqueue_candidates,
    is_work_trial,
)

Progress = Callable[[int], None]


class _NotEvaluated(Exception):
    """A trial that steps aside without evaluating anything (multi-objective studies cannot
    prune): a spare trial created when the queue emptied in a race, a duplicate of a candidate
    another trial holds, or an invalid combination proposed by a sampler. It ends FAIL with the
    user attribute `skipped`, which no failure count or listing includes."""


def _skip(trial: optuna.Trial, reason: str) -> None:
    trial.set_user_attr("skipped", reason)
    raise _NotEvaluated(reason)


def _objective(
    space: SearchSpace, evaluator: Evaluator, *, enqueued_only: bool, exclude: Any = None
):
    def objective(trial: optuna.Trial) -> list[float]:
        if enqueued_only and "architecture_id" not in trial.user_attrs:
            _skip(trial, "no enqueued candidate left")
        values = {
            key: trial.suggest_categorical(key, list(space.dimensions[key])) for key in DIMENSIONS
        }
        if values["hidden"] % values["heads"]:
            _skip(trial, "H is not divisible by A")
        architecture = space.architecture(**values)
        if exclude is not None and architecture in exclude:
            _skip(trial, "T's size: W = 0 whatever the error, so it is not trained")
        if enqueued_only:
            _skip_if_taken(trial, architecture.id)
        trial.set_user_attr("architecture_id", architecture.id)
        trial.set_user_attr("architecture", architecture.to_dict())
        steps_before = evaluator.cost.training_steps
        try:
            measurements = evaluator.measure_all(architecture)
        except KeyboardInterrupt:
            trial.set_user_attr("skipped", "interrupted")  # a stop, not a failed evaluation
            raise
        except BortnasError:
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:500])
            raise
        trial.set_user_attr("measurements", {name: m.to_dict() for name, m in measurements.items()})
        # What this trial paid (0 when every value came from a cache): summed over the study,
        # it is the training cost of all workers together.
        trial.set_user_attr("training_steps", evaluator.cost.training_steps - steps_before)
        record_theta_trials(trial, architecture, measurements)
        return [measurements[name].value for name in OBJECTIVES]

    return objective


def record_theta_trials(
    trial: optuna.Trial, architecture: Any, measurements: dict[str, Any]
) -> None:
    """Mark `trial` with its best θ and add one completed trial per other (finite) θ.

    The trial that trained the candidate stands for its best θ (its values are the candidate's
    p, i and ê); the study holds one trial per (ξ, θ). Should the worker die before its own trial
    completes, the retry adds them again and readers keep the first of each (ξ, θ).
    """
    error = measurements["error"]
    per_theta = error.details.get("per_theta") or []
    best = int(error.details.get("theta_best", 0))
    trial.set_user_attr("theta_index", best)
    if per_theta:
        trial.set_user_attr("theta", _theta_settings(per_theta[best]))
    for index, theta in enumerate(per_theta):
        if index == best or not math.isfinite(theta["value"]):
            continue  # a diverged θ stays in the candidate's details, not as a trial
        trial.study.add_trial(
            optuna.trial.create_trial(
                params=dict(trial.params),
                distributions=dict(trial.distributions),
                values=[
                    measurements["parameters"].value,
                    measurements["latency"].value,
                    float(theta["value"]),
                ],
                user_attrs={
                    "architecture_id": architecture.id,
                    "architecture": architecture.to_dict(),
                    "theta_index": index,
                    "theta": _theta_settings(theta),
                    "theta_of_trial": trial.number,
                },
            )
        )


def _theta_settings(theta: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in theta.items() if key not in ("value", "per_seed")}


def _skip_if_taken(trial: optuna.Trial, architecture_id: str) -> None:
    """Prune a trial whose candidate another trial already holds (workers enqueued it twice).

    Two workers starting together may both enqueue the same candidate. The rule that keeps every
    candidate evaluated once: a completed or running trial owns the candidate, and a trial that
    finds an owner steps aside. Should two step aside from each other at the same instant, the
    candidate is enqueued again by the next pass of `evaluate_enqueued`; should the owner's worker
    die, its trial is failed by the heartbeat check and the candidate enqueued again. Nothing is
    lost either way.
    """
    for other in trial.study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
    ):
        if (
            other.number == trial.number
            or not is_work_trial(other)
            or other.user_attrs.get("architecture_id") != architecture_id
        ):
            continue
        if other.state in (TrialState.COMPLETE, TrialState.RUNNING):
            _skip(trial, f"candidate already held by trial {other.number}")


def fail_never_started(study: optuna.Study, grace_seconds: float | None = None) -> int:
    """Fail RUNNING trials whose worker died before it ever started them; return how many.

    Optuna's heartbeat check misses one case: a worker killed between taking a trial (RUNNING)
    and its first heartbeat leaves a trial that never beats, so it is never stale and the other
    workers would wait on it forever (seen after a `kill -9`). A live worker records the
    architecture in the trial within milliseconds of taking it, so a trial without it after
    three grace periods is such an orphan: it is failed, and its candidate goes back in the queue.
    """
    grace = GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = datetime.datetime.now()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if "architecture" in trial.user_attrs or started is None:
            continue
        if (now - started).total_seconds() > 3 * grace:
            storage = study._storage
            storage.set_trial_user_attr(
                trial._trial_id, "fail_reason", "its worker died before starting it"
            )
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed += 1
    return failed


def _stop_when_queue_empty(study: optuna.Study, trial: Any) -> None:
    if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.stop()


def evaluate_enqueued(
    study: optuna.Study,
    space: SearchSpace,
    evaluator: Evaluator,
    candidates: list,
    *,
    on_progress: Progress | None = None,
    wait_seconds: float = HEARTBEAT_SECONDS,
) -> None:
    """Evaluate every candidate exactly once across all workers sharing the study.

    Returns when every candidate is complete or out of retries. Trials still running elsewhere are
    waited for; if their worker died, Optuna's heartbeat check fails them and the retry callback
    puts them back in the queue, where this worker picks them up.
    """
    objective = _objective(space, evaluator, enqueued_only=True)
    wanted = {candidate.id for candidate in candidates}

    def report(*_: Any) -> None:
        if on_progress is not None:
            done = sum(
                1 for t in completed_trials(study) if t.user_attrs["architecture_id"] in wanted
            )
            on_progress(done)

    report()
    while True:
        enqueue_candidates(study, candidates)
        states = count_states(study)
        if states.get("WAITING", 0):
            try:
                study.optimize(
                    objective, callbacks=[_stop_when_queue_empty, report], catch=(_NotEvaluated,)
                )
            except (BortnasError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a failed evaluation: recorded on its trial, retried
                warnings.warn(
                    f"evaluation failed ({type(exc).__name__}: {exc}); retrying", stacklevel=2
                )
            continue
        if states.get("RUNNING", 0):
            time.sleep(wait_seconds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            fail_never_started(study)
            report()
            continue
        break
    report()


def evaluate_sampled(
    study: optuna.Study,
    space: SearchSpace,
    evaluator: Evaluator,
    excluded: Any,
    trials: int,
    *,
    on_progress: Progress | None = None,
) -> None:
    """Let the study's sampler (NSGA-II) propose candidates until `trials` distinct are complete.

    `excluded` (T and the candidates of its size) are skipped: W = 0 for them whatever ê."""
    objective = _objective(space, evaluator, enqueued_only=False, exclude=set(excluded))
    attempts = 0
    while True:
        done = len(completed_trials(study))
        if on_progress is not None:
            on_progress(done)
        if done >= trials or attempts >= 20 * trials:
            return
        attempts += 1
        try:
            study.optimize(objective, n_trials=1, catch=(_NotEvaluated,))
        except (BortnasError, KeyboardInterrupt):
            raise
        except Exception as exc:  # recorded on the trial as FAIL with its reason
            warnings.warn(f"evaluation failed ({type(exc).__name__}: {exc})", stacklevel=2)
