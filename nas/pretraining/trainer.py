"""`pretrain(config)`: the training loop, resumable step for step, one process or K under torchrun.

Why it is exact to resume: batches and masks are a function of (seed, step) (`data`), and a
checkpoint holds everything else that moves (weights, optimizer, scheduler, gradient scaler,
every process's RNG states for dropout). Why K processes equal one: each takes a contiguous slice
of the global batch, the loss sums are divided by counts over the *global* batch and multiplied
by K, and DistributedDataParallel averages gradients, so every process applies the gradient of
the global mean loss. Only rank 0 writes (checkpoints, metrics, the final model).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.schedule import linear_warmup_decay
from .checkpoint import (
    METRICS,
    load_checkpoint,
    open_run,
    read_metrics,
    rng_state,
    save_checkpoint,
    set_rng_state,
    truncate_metrics,
)
from .config import PretrainConfig, PretrainError
from .data import BatchSource
from .distributed import Cluster, join, leave
from .objective import MODE_LABELS, Objective
from .output import export_model, plot_losses
from .setup import Ingredients, build_model, gather

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class PretrainResult:
    """Where the model went and what the run did (rank 0's view)."""

    out: Path
    steps: int
    mode: str
    metrics: list[dict[str, Any]]
    resumed_from: int
    tokens_per_second: float | None


def _optimizer(model: torch.nn.Module, config: PretrainConfig) -> torch.optim.AdamW:
    decay, plain = [], []
    for name, parameter in model.named_parameters():
        (plain if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": plain, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
    )


def _on_rank_zero_first(cluster: Cluster, work: Callable[[], Ingredients]) -> Ingredients:
    """Rank 0 builds the caches (corpus, tokenizer) first; the others then read them."""
    if not cluster.main:
        cluster.barrier()
    result = work()
    if cluster.main:
        cluster.barrier()
    return result


def pretrain(
    config: PretrainConfig,
    *,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> PretrainResult:
    """Pretrain `config.arch` into `config.out` (resuming a checkpoint there); see the module."""
    cluster = join(config.device)
    try:
        return _run(config, cluster, on_step or (lambda record: None), on_message or print)
    finally:
        leave(cluster)


def _run(
    config: PretrainConfig,
    cluster: Cluster,
    on_step: Callable[[dict[str, Any]], None],
    say: Callable[[str], None],
) -> PretrainResult:
    if config.batch_size % cluster.world:
        raise PretrainError(
            f"the global batch {config.batch_size} does not split evenly over {cluster.world} "
            "processes"
        )
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = cluster.device
    ingredients = _on_rank_zero_first(cluster, lambda: gather(config, device.type))
    out = Path(config.out).expanduser()
    resume = False
    if cluster.main:
        out.mkdir(parents=True, exist_ok=True)
        resume = open_run(out, config, ingredients.facts())
    resume = bool(cluster.gather(resume)[0])
    model = build_model(config, ingredients).to(device)
    optimizer = _optimizer(model, config)
    total = config.total_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: linear_warmup_decay(step, total, config.warmup)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    start = 0
    if resume:
        state = load_checkpoint(out, model, optimizer, scheduler, scaler)
        start = int(state["step"])
        set_rng_state(state["rng"][cluster.rank % len(state["rng"])])
        if cluster.main:
            truncate_metrics(out, start)
            say(f"resuming {out} at step {start} of {total}")
    elif cluster.main:
        truncate_metrics(out, 0)
    cluster.barrier()
    source = BatchSource(
        ingredients.corpus.train,
        ingredients.tokenizer,
        batch_size=config.batch_size,
        sequence_length=config.sequence_length,
        mask_probability=config.mask_probability,
        seed=config.seed,
        rank=cluster.rank,
        world=cluster.world,
    )
    objective = Objective(
        ingredients.mode,
        ingredients.teacher,
        config.mlm_weight,
        config.distillation_weight,
        config.temperature,
    )
    wrapped = cluster.wrap(model)
    autocast = torch.autocast(
        device.type,
        dtype=AUTOCAST_DTYPES.get(config.precision, torch.float32),
        enabled=config.precision != "fp32",
    )
    if cluster.main and start < total:
        say(
            f"pretraining {ingredients.architecture.name} for {total} steps: "
            f"{MODE_LABELS[ingredients.mode]}; {cluster.world} process(es) on {device.type}"
        )
    started, seen = time.perf_counter(), 0
    metrics = (out / METRICS).open("a", encoding="utf-8") if cluster.main else None
    model.train()
    for step in range(start, total):
        batch = source.batch(step)
        local = torch.tensor([batch.chosen.sum(), len(batch.texts), batch.tokens], dtype=torch.long)
        masked, documents, tokens = (int(v) for v in cluster.sum(local).tolist())
        mlm_sum, distill_sum = objective.sums(wrapped, batch, device, autocast)
        mlm = mlm_sum / masked
        distill = distill_sum / objective.distillation_count(masked, documents)
        loss = config.mlm_weight * mlm
        if objective.mode != "mlm":
            loss = loss + config.distillation_weight * distill
        scaler.scale(loss * cluster.world).backward()
        scaler.unscale_(optimizer)
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        parts = cluster.sum(torch.stack([mlm.detach(), distill.detach()]).double()).tolist()
        seen += tokens
        elapsed = time.perf_counter() - started
        rate = seen / elapsed if elapsed > 0 else None
        record = {
            "step": step + 1,
            "loss": config.mlm_weight * parts[0]
            + (config.distillation_weight * parts[1] if objective.mode != "mlm" else 0.0),
            "mlm": parts[0],
            "distillation": parts[1] if objective.mode != "mlm" else None,
            "lr": scheduler.get_last_lr()[0],
            "tokens": tokens,
        }
        if not math.isfinite(record["loss"]):
            raise PretrainError(
                f"the loss is not finite at step {step + 1}; lower --learning-rate or use fp32"
            )
        if metrics is not None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            on_step(
                {**record, "total": total, "first": start, "tokens_per_second": rate}
                | {"seconds": elapsed}
            )
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == total:
            _checkpoint(out, cluster, model, optimizer, scheduler, scaler, step + 1, source)
    elapsed = time.perf_counter() - started  # training alone: the export is not a step
    if metrics is not None:
        metrics.close()
    records = read_metrics(out) if cluster.main else []
    if cluster.main:
        export_model(out, model.student, ingredients.tokenizer)
        if records:
            plot_losses(records, out / "loss.png")
    cluster.barrier()
    return PretrainResult(
        out=out,
        steps=total,
        mode=ingredients.mode,
        metrics=records,
        resumed_from=start,
        tokens_per_second=seen / elapsed if seen and elapsed > 0 else None,
    )


def _checkpoint(
    out: Path,
    cluster: Cluster,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    step: int,
    source: BatchSource,
) -> None:
    states = cluster.gather(rng_state())
    if cluster.main:
        save_checkpoint(
            out,
            model,
            optimizer,
            scheduler,
            scaler,
            step=step,
            rng=states,
            position=source.position(step),
        )
    cluster.barrier()
