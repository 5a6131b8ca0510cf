"""The one device rule for every part that trains or times a model: cpu, cuda[:N] or auto.

Why in the shared base: the error proxy, the latency proxies, Agora and pretraining all take a
`--device`; one rule gives them the same answer and the same one-line error on a machine without
a GPU (GPU code paths must fall back to the CPU only when the user asked for `auto`).
"""

from __future__ import annotations

import sys

from .errors import BortnasError

_NOTICES: set[str] = set()


class DeviceError(BortnasError, ValueError):
    """A device that does not exist on this machine, or a name that is not a device."""


def resolve_device(device: str) -> str:
    """'cpu', 'cuda' (or 'cuda:N') when torch can reach a GPU, or 'auto': CUDA when there is
    one, else the CPU with a one-line notice. Anything else is a user mistake."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if "auto" not in _NOTICES:
            _NOTICES.add("auto")
            print("bortnas: --device auto: no CUDA GPU here, using the CPU", file=sys.stderr)
        return "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or (isinstance(device, str) and device.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {device!r} was asked for, but torch {torch.__version__} sees no CUDA GPU; "
                "use device='cpu' or 'auto'"
            )
        return device
    raise DeviceError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'auto'")
