"""A pretraining run's folder: its identity, its metrics and its checkpoint, all written atomically.

Why this layout: `kill -9` may strike at any instant. The checkpoint (`checkpoint/`: the weights as
safetensors, and `state.pt` with optimizer, scheduler, gradient scaler, every process's RNG states
and the data position) arrives in one rename (`atomic_directory`), so a reader finds the previous
checkpoint or the new one, never a part. `metrics.jsonl` gets one line per step and may run ahead
of the checkpoint: on resume the lines after the checkpoint's step are dropped, so the file holds
exactly one line per step of the final loss curve. `state.pt` holds tensors and plain Python
values only and is read with `weights_only=True` (no pickled code).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from ..core.errors import DataError, StoreError
from ..core.files import atomic_directory, atomic_path, write_json_atomic
from .config import PretrainConfig

RUN_FILE = "run.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint"
WEIGHTS = "model.safetensors"
STATE = "state.pt"


def rng_state() -> dict[str, Any]:
    """This process's random states: torch (CPU and current GPU) and Python's."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def open_run(out: Path, config: PretrainConfig, facts: dict[str, Any]) -> bool:
    """Check `out` holds this run or nothing (True: a run to resume); write its `run.json`.

    `facts` are the identities of what the run reads (corpus, tokenizer, teacher content).
    """
    path = out / RUN_FILE
    identity = json.loads(json.dumps({"config": config.identity(), **facts}, default=str))
    if config.restart:
        for name in (CHECKPOINT, METRICS, RUN_FILE):
            target = out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out}: exists and is not a folder")
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))["identity"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{path}: damaged run file ({exc}); use --restart") from None
        if saved != identity:
            old, new = saved.get("config", {}), identity["config"]
            changed = sorted(k for k in new if old.get(k) != new[k])
            changed += sorted(k for k in identity if k != "config" and saved.get(k) != identity[k])
            raise StoreError(
                f"{out}: holds a different run (changed: {', '.join(changed)}); "
                "use a new --out folder or --restart"
            )
        return (out / CHECKPOINT).is_dir()
    write_json_atomic(path, {"identity": identity, "settings": config.to_dict()})
    return False


def save_checkpoint(
    out: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    *,
    step: int,
    rng: list[dict[str, Any]],
    position: dict[str, int],
) -> None:
    """Write the state after `step` steps; `rng` holds every process's states, in rank order."""
    with atomic_directory(out / CHECKPOINT) as staging:
        save_model(model, str(staging / WEIGHTS))
        state = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng,
            "data": position,
        }
        torch.save(state, staging / STATE)


def load_checkpoint(
    out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any
) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and scaler in place; return the state (step, rng)."""
    folder = out / CHECKPOINT
    try:
        load_model(model, str(folder / WEIGHTS), strict=True)  # tied weights are handled
        state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
    except Exception as exc:  # any damage: one line, naming the folder
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"{folder}: damaged checkpoint ({first}); use --restart") from None
    return state


def truncate_metrics(out: Path, step: int) -> None:
    """Keep the metric lines of steps 1..`step` (a killed run may have logged past its
    checkpoint); drop a torn last line."""
    path = out / METRICS
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            break
    with atomic_path(path) as temporary:
        temporary.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def read_metrics(out: Path) -> list[dict[str, Any]]:
    path = out / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
