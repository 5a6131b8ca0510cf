"""Latency proxies on tiny architectures: ordering, caching, fingerprints, errors, prediction maths.

Timing figures (Spearman, MAPE, BERT-large vs Bort) live in benchmarks/latency_proxy.py; these
tests only check properties that hold on any machine, however loaded.
"""

from __future__ import annotations

import pytest
import torch

from bortnas import Architecture, BortnasError, load_space
from bortnas.proxies.base import Measurement, MeasurementCache, evaluate_cached
from bortnas.proxies.latency import (
    LatencyError,
    LatencySettings,
    MeasuredLatencyProxy,
    hardware_fingerprint,
)
from bortnas.proxies.latency_table import (
    PredictedLatencyProxy,
    fit_affine,
    make_latency_proxy,
    pick_calibration,
)

TINY = {"vocab_size": 1024, "max_positions": 130}
SHALLOW = Architecture(depth=1, heads=4, hidden=64, intermediate=256, **TINY)
DEEP = SHALLOW.with_shape(depth=8)
FAST = {"sequence_length": 64, "warmup": 1, "repeat": 3, "min_run_time": 0.05, "threads": 1}


@pytest.fixture
def count_timings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every timed callable (model, layer or overhead) across both proxies."""
    calls: list[int] = []
    original = LatencySettings.time

    def counting(self: LatencySettings, run):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, run)

    monkeypatch.setattr(LatencySettings, "time", counting)
    return calls


def test_deeper_copy_of_the_same_layer_is_slower() -> None:
    proxy = MeasuredLatencyProxy(**FAST)
    shallow, deep = proxy.evaluate(SHALLOW), proxy.evaluate(DEEP)
    assert deep.value > 1.3 * shallow.value
    assert deep.unit == "ms" and deep.spread is not None and deep.spread >= 0
    assert deep.details["runs"] >= 1 and deep.provenance["method"] == "measured"


def test_cache_hit_skips_timing_and_refresh_remeasures(tmp_path, count_timings) -> None:
    cache = MeasurementCache(tmp_path)
    proxy = MeasuredLatencyProxy(**FAST)
    first = evaluate_cached(proxy, SHALLOW, cache)
    assert evaluate_cached(proxy, SHALLOW, cache) == first
    assert len(count_timings) == 1
    evaluate_cached(proxy, SHALLOW, cache, refresh=True)
    assert len(count_timings) == 2


def test_fingerprint_differs_with_batch_and_threads() -> None:
    base = hardware_fingerprint("cpu", 1, 1, 128)
    assert base != hardware_fingerprint("cpu", 1, 2, 128)
    assert base != hardware_fingerprint("cpu", 2, 1, 128)
    assert base["cpu"] and base["cores"] >= 1 and base["torch"] == torch.__version__
    keys = {
        MeasuredLatencyProxy(batch_size=b, threads=t).cache_key(SHALLOW)
        for b, t in [(1, 1), (2, 1), (1, 2)]
    }
    assert len(keys) == 3


def test_threads_are_recorded_and_restored() -> None:
    before = torch.get_num_threads()
    proxy = MeasuredLatencyProxy(**FAST)
    assert proxy.provenance()["threads"] == 1
    proxy.evaluate(SHALLOW)
    assert torch.get_num_threads() == before
    assert MeasuredLatencyProxy().provenance()["threads"] == before


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"sequence_length": "128"}, "sequence_length must be a whole number"),
        ({"threads": True}, "threads must be a whole number"),
        ({"threads": -2}, "threads must be positive"),
        ({"repeat": 0}, "repeat must be positive"),
        ({"min_run_time": float("nan")}, "min_run_time must be a finite number"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"runtime": "tensorrt"}, "unknown runtime 'tensorrt'"),
    ],
)
def test_bad_arguments_raise_clear_errors(knobs, message) -> None:
    for method in ("measured", "predicted"):
        with pytest.raises(LatencyError, match=message):
            make_latency_proxy(method, **knobs)


def test_other_user_mistakes() -> None:
    assert issubclass(LatencyError, BortnasError)
    with pytest.raises(BortnasError, match="unknown latency method 'guess'"):
        make_latency_proxy("guess")
    with pytest.raises(LatencyError, match="at least 2"):
        PredictedLatencyProxy(calibration_size=1)
    with pytest.raises(LatencyError, match="exceeds"):
        MeasuredLatencyProxy(sequence_length=512).evaluate(SHALLOW)
    if not torch.cuda.is_available():
        with pytest.raises(LatencyError, match="sees no CUDA GPU"):
            MeasuredLatencyProxy(device="cuda")


def test_affine_fit_is_exact_on_a_linear_case() -> None:
    slope, intercept = fit_affine([1.0, 2.0, 5.0, 9.0], [5.0, 7.5, 15.0, 25.0])
    assert slope == pytest.approx(2.5) and intercept == pytest.approx(2.5)
    with pytest.raises(LatencyError):
        fit_affine([3.0, 3.0], [1.0, 2.0])


def test_a_negative_intercept_falls_back_to_a_proportional_fit() -> None:
    # The calibration of a real run where one entry was timed under contention: least squares
    # gives intercept -14 ms, which predicted -7 ms for the smallest bert-large candidates.
    raw = [19.0, 117.8, 108.4, 32.2, 224.5]
    measured = [14.5, 73.1, 123.0, 43.6, 275.9]
    with pytest.warns(UserWarning, match="proportional"):
        slope, intercept = fit_affine(raw, measured)
    assert intercept == 0.0 and slope > 0
    assert slope * 2.0 + intercept > 0  # any positive raw sum gives a positive latency


def test_calibration_set_is_spread_over_the_space() -> None:
    space = load_space("bert-large").candidates
    picked = pick_calibration(space, 5)
    assert len(picked) == 5 and set(picked) <= set(space)
    assert len({a.depth for a in picked}) >= 2 and len({a.hidden for a in picked}) >= 2


class _SyntheticTable(PredictedLatencyProxy):
    """Layer, overhead and full timings replaced by known numbers: checks the combination."""

    def _time_layer(self, hidden, heads, intermediate):  # type: ignore[no-untyped-def]
        return Measurement("latency-layer", hidden * intermediate / 1000 + heads, "ms")

    def _time_overhead(self, architecture):  # type: ignore[no-untyped-def]
        return Measurement("latency-overhead", architecture.hidden / 100, "ms")


def test_prediction_combines_layers_and_calibration(monkeypatch) -> None:
    proxy = _SyntheticTable(space="tiny", calibration_size=4, cache=None, threads=1)

    def truth(a: Architecture) -> float:  # an exactly affine "measurement"
        return 3.0 * (a.depth * (a.hidden * a.intermediate / 1000 + a.heads) + a.hidden / 100) + 1

    def measured(a: Architecture) -> Measurement:
        return Measurement("latency", truth(a), "ms")

    monkeypatch.setattr(proxy.measured, "evaluate", measured)
    for arch in load_space("tiny").candidates:
        assert proxy.evaluate(arch).value == pytest.approx(truth(arch))
    assert proxy.evaluate(SHALLOW).details["slope"] == pytest.approx(3.0)
    assert proxy.provenance()["method"] == "predicted"


def test_predicted_proxy_reuses_its_table_across_instances(tmp_path, count_timings) -> None:
    cache = MeasurementCache(tmp_path)
    knobs = {**FAST, "space": "tiny", "calibration_size": 3, "cache": cache}
    first = PredictedLatencyProxy(**knobs)
    values = [first.evaluate(SHALLOW.with_shape(depth=d)).value for d in (1, 4, 8)]
    assert values == sorted(values) and values[0] < values[-1]
    timed = len(count_timings)
    assert timed >= 3  # at least one layer, one overhead and the calibration measurements
    second = PredictedLatencyProxy(**knobs)  # as a second process would: same disk cache
    assert second.evaluate(DEEP).value == pytest.approx(values[-1])
    assert len(count_timings) == timed
    refreshed = PredictedLatencyProxy(**knobs, refresh=True)
    refreshed.evaluate(DEEP)
    assert len(count_timings) > timed
    assert first.cache_key(DEEP) != MeasuredLatencyProxy(**FAST).cache_key(DEEP)


def test_onnxruntime_times_the_exported_model_with_the_same_scheme(tmp_path) -> None:
    """ONNX Runtime (CPU provider) times the same models; its values are kept apart from eager's."""
    eager = MeasuredLatencyProxy(**FAST)
    onnx = MeasuredLatencyProxy(**FAST, runtime="onnxruntime")
    assert onnx.provenance()["runtime"] == "onnxruntime" and "runtime" not in eager.provenance()
    assert onnx.cache_key(SHALLOW) != eager.cache_key(SHALLOW)
    shallow, deep = onnx.evaluate(SHALLOW), onnx.evaluate(DEEP)
    assert deep.value > 1.3 * shallow.value > 0
    # The layer table and its calibration run in ONNX Runtime too, and predict its timings.
    space = [SHALLOW, SHALLOW.with_shape(depth=4), DEEP]
    predicted = PredictedLatencyProxy(
        space=space,
        calibration_size=2,
        runtime="onnxruntime",
        cache=MeasurementCache(tmp_path),
        **FAST,
    )
    values = [predicted.evaluate(a).value for a in space]
    assert values == sorted(values) and values[0] > 0
    assert predicted.provenance()["runtime"] == "onnxruntime"


def test_onnxruntime_runs_on_the_cpu_only() -> None:
    for method in ("measured", "predicted"):
        with pytest.raises(LatencyError, match="use device 'cpu'"):
            make_latency_proxy(method, device="cuda", runtime="onnxruntime")
    if not torch.cuda.is_available():  # 'auto' without a GPU is the CPU, which is fine
        proxy = MeasuredLatencyProxy(device="auto", runtime="onnxruntime")
        assert proxy.provenance()["device"] == "cpu"
        assert {"onnxruntime", "onnx", "onnxscript"} <= set(proxy.provenance())
