"""Data parallelism through torch's own engine: one process, or K under `torchrun`.

Why torch.distributed and nothing of our own: `torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK and the
rendezvous address; we join the process group (NCCL on GPUs, gloo on the CPU) and wrap the model
in DistributedDataParallel, which averages gradients. Without torchrun every helper here is the
identity, so one code path serves both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..core.device import resolve_device
from .config import PretrainError


@dataclass(frozen=True)
class Cluster:
    """This process's place: rank of world, and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over every process (float64 on the CPU for gloo; exact counts)."""
        if self.world == 1:
            return values
        values = values.to(self.device)
        dist.all_reduce(values)
        return values

    def gather(self, value: Any) -> list[Any]:
        """Every process's `value`, in rank order (pickled: small objects only)."""
        if self.world == 1:
            return [value]
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return gathered

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)


def join(device: str) -> Cluster:
    """Join torchrun's process group when launched by it; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    resolved = resolve_device(device)
    if world == 1:
        return Cluster(0, 1, torch.device(resolved))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if resolved == "cuda":
        if local >= torch.cuda.device_count():
            raise PretrainError(
                f"torchrun started {world} processes but this machine has "
                f"{torch.cuda.device_count()} GPU(s); use --nproc-per-node at most that"
            )
        torch.cuda.set_device(local)
        place = torch.device("cuda", local)
    else:
        place = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if place.type == "cuda" else "gloo")
    return Cluster(rank, world, place)


def leave(cluster: Cluster) -> None:
    if cluster.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
