"""Timing a model in ONNX Runtime (CPU provider) instead of PyTorch eager mode (`--runtime`).

Why apart: the exporter and the runtime are optional packages (`pip install 'bortnas[onnx]'`);
the latency proxies only need a callable to time, which `onnx_runner` gives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from bortnas.core.errors import BortnasError


class OnnxUnavailable(BortnasError, ImportError):
    """The ONNX packages are not installed."""


def onnx_versions() -> dict[str, str]:
    """The exporter's and the runtime's versions (a new one can time differently), or a clear
    one-line user error when one of the three packages is missing."""
    try:
        import onnx
        import onnxruntime
        import onnxscript
    except ImportError:
        raise OnnxUnavailable(
            "runtime 'onnxruntime' needs the packages onnxruntime, onnx and onnxscript "
            "(pip install 'bortnas[onnx]')"
        ) from None
    return {
        "runtime": "onnxruntime",
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
    }


def onnx_runner(module: Any, args: tuple, kwargs: dict[str, Any], threads: int) -> Callable:
    """`module(*args, **kwargs)` exported to ONNX (torch.onnx, in memory) and run by ONNX Runtime's
    CPU provider on `threads` intra-op threads: the runtime many users serve BERT with on CPUs.

    Why in memory and per model: the same table-and-calibration scheme then holds for either
    runtime, and nothing is left on disk. The exporter's chatter is silenced.
    """
    import io
    import logging
    import warnings

    import onnxruntime  # checked by `onnx_versions` when the settings were made
    import torch

    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, args, kwargs=kwargs, dynamo=True, verbose=False)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        program.model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [value.name for value in session.get_inputs()]
    named = {key: value for key, value in kwargs.items() if isinstance(value, torch.Tensor)}
    if set(names) <= set(named):  # keyword inputs keep their names through the export
        tensors = [named[name] for name in names]
    else:  # positional inputs, in the order of the call
        tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)]
    if len(names) != len(tensors):  # an internal bug: the exporter dropped or added an input
        raise RuntimeError(f"ONNX model takes {names}, we have {len(tensors)} tensors")
    feeds = {name: tensor.cpu().numpy() for name, tensor in zip(names, tensors, strict=True)}
    return lambda: session.run(None, feeds)
