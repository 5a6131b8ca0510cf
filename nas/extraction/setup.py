"""Building a search's proxies and naming its study, from a `SearchConfig`.

Why apart from the pipeline: what the proxies are and what identifies a study are decisions of
their own (which knobs reach which proxy; what may and may not change a study's name), tested on
their own, while `bortnas.extraction.search` only runs the steps.
"""

from __future__ import annotations

from typing import Any

from bortnas.proxies.base import Proxy
from bortnas.proxies.parameters import ParameterProxy
from bortnas.search_spaces import SearchSpace

from ..core.architecture import Architecture
from ..core.errors import BortnasError
from ..core.theta import SEARCH_FIELDS
from .config import SearchConfig


def default_width_scale(space: SearchSpace) -> int:
    """The error proxy's width scale for a space: its narrowest hidden size trains as narrow as
    bert-large's does at the proxy's default (512 / 16 = 32), so every space gets the same
    fidelity per candidate and small spaces (tiny: H = 32) are not shrunk below recognition."""
    from bortnas.proxies.training import DEFAULT_WIDTH_SCALE

    reference_width = 512 / DEFAULT_WIDTH_SCALE
    return max(1, int(min(space.dimensions["hidden"]) // reference_width))


def build_proxies(space: SearchSpace, config: SearchConfig, steps: int) -> dict[str, Proxy]:
    """The three proxies of a search, in the objective order of the study.

    The predicted latency proxy calibrates on this space; it starts without a disk cache, which
    `search` attaches once nothing can fail any more. Invalid knobs are user mistakes.
    """
    from bortnas.proxies.error import DistillationErrorProxy
    from bortnas.proxies.latency_table import make_latency_proxy

    error_options: dict[str, Any] = {
        "steps": steps,
        "theta": config.theta,
        "seeds": config.seeds,
        "width_scale": (
            default_width_scale(space) if config.width_scale is None else config.width_scale
        ),
        "device": config.device,
        "error_loss": config.error_loss,
    }
    for key in ("corpus", "teacher"):
        if getattr(config, key) is not None:
            error_options[key] = getattr(config, key)
    latency_knobs: dict[str, Any] = {"runtime": config.runtime}
    for source, target in (
        ("latency_batch", "batch_size"),
        ("latency_sequence", "sequence_length"),
        ("threads", "threads"),
    ):
        if getattr(config, source) is not None:
            latency_knobs[target] = getattr(config, source)
    if config.device != "cpu":
        from ..core.device import resolve_device

        latency_knobs["device"] = resolve_device(config.device)
    if config.latency == "predicted":
        latency_knobs.update(space=space, cache=None, refresh=config.remeasure)
    try:
        return {
            "parameters": ParameterProxy(include_embeddings=config.with_embeddings),
            "error": DistillationErrorProxy(**error_options),
            "latency": make_latency_proxy(config.latency, **latency_knobs),
        }
    except (ValueError, TypeError) as exc:
        if isinstance(exc, BortnasError):
            raise
        raise BortnasError(f"invalid proxy setting: {exc}") from None


def study_identity(
    config: SearchConfig, candidates: list[Architecture], proxies: dict[str, Proxy]
) -> dict[str, Any]:
    """What decides a study's values: the settings, the space and the proxies' fidelity with the
    content hashes of corpus, tokenizer and teacher; never paths, hardware or library versions
    (those are recorded per trial), so that machines pointed at one store share one study."""
    error = {
        key: value
        for key, value in proxies["error"].provenance().items()
        if key not in ("corpus_source", "tokenizer_source", "libraries")
    }
    if isinstance(error.get("teacher"), str):
        error["teacher"] = error["teacher"].rsplit(":", 1)[-1]  # the content hash, not the name
    timing = proxies["latency"].provenance()
    identity = {key: getattr(config, key) for key in SearchConfig.IDENTITY_FIELDS}
    identity["theta"] = [setting.to_dict(SEARCH_FIELDS) for setting in config.theta]
    return identity | {
        "space_candidates": [c.id for c in candidates],
        "parameters": proxies["parameters"].provenance(),
        "error": error,
        "latency": {key: timing.get(key) for key in ("method", "batch_size", "sequence_length")}
        # ONNX Runtime gives other values: its own study (eager studies keep their old names).
        | ({"runtime": timing["runtime"]} if "runtime" in timing else {}),
    }
