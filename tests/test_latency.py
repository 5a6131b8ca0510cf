"""Latency proxies on tiny architectures: ordering, caching, fingerprints, errors, prediction maths.

Timing figures (Spearman, MAPE, BERT-large vs Bort) live in benchmarks/latency_proxy.py; these
tests only check properties that hold on any machine, however loaded.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from bortnas import Architecture, BortnasError, count_parameters, load_space
from bortnas.proxies.base import MeasurementCache, evaluate_cached
from bortnas.proxies.latency import (
    LatencyError,
    LatencySettings,
    MeasuredLatencyProxy,
    hardware_fingerprint,
)
from bortnas.proxies.latency_calibration import assess_calibration, fit_calibration, predict
from bortnas.proxies.latency_table import (
    PredictedLatencyProxy,
    layer_key,
    make_latency_proxy,
    model_key,
    overhead_key,
    pick_calibration,
)
from bortnas.proxies.timing import time_in_rounds

TINY = {"vocab_size": 1024, "max_positions": 130}
SHALLOW = Architecture(depth=1, heads=4, hidden=64, intermediate=256, **TINY)
DEEP = SHALLOW.with_shape(depth=8)
FAST = {"sequence_length": 64, "warmup": 1, "repeat": 3, "min_run_time": 0.05, "threads": 1}
FAST_TABLE = {"sequence_length": 64, "warmup": 1, "rounds": 2, "threads": 1}


@pytest.fixture
def count_timings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every model timed alone (the measured proxy's path)."""
    calls: list[int] = []
    original = LatencySettings.time_module

    def counting(self: LatencySettings, module, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, module, *args, **kwargs)

    monkeypatch.setattr(LatencySettings, "time_module", counting)
    return calls


def test_deeper_copy_of_the_same_layer_is_slower() -> None:
    proxy = MeasuredLatencyProxy(**FAST)
    shallow, deep = proxy.evaluate(SHALLOW), proxy.evaluate(DEEP)
    assert deep.value > 1.3 * shallow.value
    assert deep.unit == "ms"
    assert deep.spread is not None
    assert deep.spread >= 0
    assert deep.details["runs"] >= 1
    assert deep.provenance["method"] == "measured"


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
    assert base["cpu"]
    assert base["cores"] >= 1
    assert base["torch"] == torch.__version__
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
    ("knobs", "message", "methods"),
    [
        ({"batch_size": 0}, "batch_size must be positive", ("measured", "predicted")),
        ({"sequence_length": "128"}, "sequence_length must be a whole", ("measured", "predicted")),
        ({"threads": True}, "threads must be a whole number", ("measured", "predicted")),
        ({"threads": -2}, "threads must be positive", ("measured", "predicted")),
        ({"repeat": 0}, "repeat must be positive", ("measured",)),
        ({"min_run_time": float("nan")}, "min_run_time must be a finite", ("measured",)),
        ({"rounds": 0}, "rounds must be positive", ("predicted",)),
        ({"retimings": -1}, "retimings must be a whole number >= 0", ("predicted",)),
        ({"device": "tpu"}, "unknown device 'tpu'", ("measured", "predicted")),
        ({"runtime": "tensorrt"}, "unknown runtime 'tensorrt'", ("measured", "predicted")),
    ],
)
def test_bad_arguments_raise_clear_errors(knobs, message, methods) -> None:
    for method in methods:
        with pytest.raises(BortnasError, match=message):
            make_latency_proxy(method, **knobs)


def test_other_user_mistakes() -> None:
    assert issubclass(LatencyError, BortnasError)
    with pytest.raises(BortnasError, match="unknown latency method 'guess'"):
        make_latency_proxy("guess")
    with pytest.raises(LatencyError, match="at least 2"):
        PredictedLatencyProxy(calibration_size=1)
    with pytest.raises(LatencyError, match="exceeds"):
        MeasuredLatencyProxy(sequence_length=512).evaluate(SHALLOW)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_asking_for_a_gpu_that_is_not_there_is_a_user_mistake() -> None:
    with pytest.raises(BortnasError, match="sees no CUDA GPU"):
        MeasuredLatencyProxy(device="cuda")


def test_calibration_fit_is_exact_on_a_power_law() -> None:
    raw = np.array([1.0, 2.0, 5.0, 9.0])
    scale, exponent = fit_calibration(raw, 2.5 * raw**1.1)
    assert scale == pytest.approx(2.5)
    assert exponent == pytest.approx(1.1)
    with pytest.raises(LatencyError):
        fit_calibration([3.0, 3.0], [1.0, 2.0])


def test_one_disturbed_full_timing_does_not_move_the_calibration() -> None:
    # The search of the report: one full model timed under contention (here 180 ms too slow).
    # Least squares turned such a point into a large intercept added to every candidate.
    raw = np.array([5.0, 20.0, 40.0, 70.0, 110.0, 160.0, 210.0])
    measured = 1.1 * raw
    disturbed = measured.copy()
    disturbed[2] += 180.0
    scale, exponent = fit_calibration(raw, disturbed)
    assert scale * raw[0] ** exponent == pytest.approx(measured[0], rel=0.02)
    assert exponent == pytest.approx(1.0, abs=0.01)
    least_squares = np.polyfit(raw, disturbed, 1)
    assert least_squares[1] > 10  # what the old fit did with it: a 10+ ms intercept


def test_a_small_model_keeps_its_relative_accuracy() -> None:
    # Raw sums that overestimate small models (standalone layers pay their own call costs):
    # a linear fit through the large models leaves the smallest 40 % off; the log fit does not.
    raw = np.array([8.1, 20.0, 45.0, 90.0, 140.0, 190.0, 240.0])
    measured = 0.55 * raw**1.1
    scale, exponent = fit_calibration(raw, measured)
    assert scale * raw[0] ** exponent == pytest.approx(measured[0], rel=0.01)
    slope, intercept = np.polyfit(raw[3:], measured[3:], 1)
    assert abs((slope * raw[0] + max(intercept, 0)) / measured[0] - 1) > 0.2


def test_the_gate_flags_a_calibration_that_leaving_one_out_contradicts() -> None:
    raw = [5.0, 20.0, 40.0, 70.0, 110.0, 160.0, 210.0]
    good = assess_calibration(list("abcdefg"), raw, [1.1 * x for x in raw])
    assert good["passed"]
    assert good["max_loo_relative_error"] < 0.01
    assert [p["architecture"] for p in good["points"]] == list("abcdefg")
    # Three of seven points disturbed: beyond what Theil-Sen can ignore.
    bad = assess_calibration(list("abcdefg"), raw, [6.0, 300.0, 44.3, 400.0, 121.3, 176.3, 900.0])
    assert not bad["passed"]
    assert bad["reasons"]


def test_calibration_set_spans_the_space_smallest_and_largest_included() -> None:
    space = load_space("bert-large").candidates
    picked = pick_calibration(space, 7)
    assert len(picked) == 7
    assert set(picked) <= set(space)
    sizes = sorted(space, key=lambda a: (count_parameters(a).without_embeddings, a.shape))
    assert sizes[0] in picked
    assert sizes[-1] in picked
    assert len({a.depth for a in picked}) >= 3


def test_rounds_keep_the_fastest_call_so_one_delayed_call_is_ignored() -> None:
    calls = []

    def steady() -> None:
        time.sleep(0.002)

    def delayed_once() -> None:
        calls.append(1)
        time.sleep(0.002 + (0.2 if len(calls) == 3 else 0.0))

    timings, probes = time_in_rounds(
        {"steady": steady, "delayed": delayed_once}, device="cpu", threads=1, warmup=1, rounds=4
    )
    assert len(probes) == 4
    assert timings["delayed"].min_ms < 20  # the 200 ms call is not the entry's value
    assert timings["delayed"].rounds == 4
    assert timings["steady"].calls >= 4


class _SyntheticTable(PredictedLatencyProxy):
    """Every entry's timing replaced by known numbers (optionally disturbed): checks the
    combination, the robust calibration, its gate and the re-timing, without a clock."""

    def __init__(self, *args, disturb=(), **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.disturb = set(disturb)
        self.timed: list[int] = []

    @staticmethod
    def truth(a: Architecture) -> float:  # a full-model time, a power of the layer sum
        return (
            3.0 * (a.depth * (a.hidden * a.intermediate / 1000 + a.heads) + a.hidden / 100) ** 1.05
        )

    def _time(self, needed, rounds, threads=None):  # type: ignore[no-untyped-def]
        self.timed.append(len(needed))
        values = {}
        for key, a in needed.items():
            if key.startswith("layer:"):
                value = a.hidden * a.intermediate / 1000 + a.heads
            elif key.startswith("overhead:"):
                value = a.hidden / 100
            else:
                value = self.truth(a) * (5.0 if a in self.disturb else 1.0)
            values[key] = {"min_ms": value, "median_round_ms": value, "spread_ms": 0.0}
        return values, [1.0] * rounds


def test_prediction_combines_layers_and_calibration() -> None:
    proxy = _SyntheticTable(space="tiny", calibration_size=4, cache=None, threads=1)
    for arch in load_space("tiny").candidates:
        assert proxy.evaluate(arch).value == pytest.approx(_SyntheticTable.truth(arch))
    assert proxy.evaluate(SHALLOW).details["scale"] > 0
    assert proxy.provenance()["method"] == "predicted"
    assert proxy.quality["passed"]
    assert proxy.timed[0] == len(proxy._needed([]))  # one timing pass over the whole table
    keys = set(proxy._needed([]))
    assert {layer_key(SHALLOW), overhead_key(SHALLOW)} <= keys | {layer_key(SHALLOW)}
    assert all(model_key(a) in keys for a in proxy.calibration_set())


def test_one_disturbed_calibration_model_leaves_predictions_within_20_percent() -> None:
    space = load_space("tiny").candidates
    clean = _SyntheticTable(space="tiny", cache=None, threads=1)
    victim = clean.calibration_set()[3]
    disturbed = _SyntheticTable(space="tiny", cache=None, threads=1, disturb=[victim])
    for arch in space:
        assert disturbed.evaluate(arch).value == pytest.approx(clean.evaluate(arch).value, rel=0.2)
    assert disturbed.quality["passed"]
    assert disturbed.quality["outliers"] == [victim.name]  # listed, and ignored by the fit
    assert disturbed.quality["retimed"] == 2  # an outlier is re-timed before it is accepted


def test_an_unrepairable_calibration_is_reported_not_silent() -> None:
    proxy = _SyntheticTable(space="tiny", cache=None, threads=1, retimings=2)
    proxy.disturb = set(proxy.calibration_set()[1::2])  # 3 of 7: too many to ignore
    with pytest.warns(UserWarning, match="quality gate"):
        proxy.prepare()
    assert not proxy.quality["passed"]
    assert proxy.quality["retimed"] == 2
    assert len(proxy.timed) == 3  # timed, then re-timed twice
    assert proxy.evaluate(SHALLOW).details["calibration_passed"] is False


def test_predicted_proxy_reuses_its_table_across_instances(tmp_path) -> None:
    cache = MeasurementCache(tmp_path)
    knobs = {**FAST_TABLE, "space": "tiny", "calibration_size": 3, "cache": cache}
    first = PredictedLatencyProxy(**knobs)
    values = [first.evaluate(SHALLOW.with_shape(depth=d)).value for d in (1, 4, 8)]
    assert values == sorted(values)
    assert values[0] < values[-1]
    second = _SyntheticTable(**knobs)  # as a second process would: same disk cache
    assert second.evaluate(DEEP).value == pytest.approx(values[-1])
    assert second.timed == []  # read from the cache, nothing timed
    refreshed = _SyntheticTable(**knobs, refresh=True)
    refreshed.evaluate(DEEP)
    assert len(refreshed.timed) == 1
    assert first.cache_key(DEEP) != MeasuredLatencyProxy(**FAST).cache_key(DEEP)


def test_onnxruntime_times_the_exported_model_with_the_same_scheme(tmp_path) -> None:
    """ONNX Runtime (CPU provider) times the same models; its values are kept apart from eager's."""
    eager = MeasuredLatencyProxy(**FAST)
    onnx = MeasuredLatencyProxy(**FAST, runtime="onnxruntime")
    assert onnx.provenance()["runtime"] == "onnxruntime"
    assert "runtime" not in eager.provenance()
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
        **FAST_TABLE,
    )
    values = [predicted.evaluate(a).value for a in space]
    assert values == sorted(values)
    assert values[0] > 0
    assert predicted.provenance()["runtime"] == "onnxruntime"


def test_onnxruntime_runs_on_the_cpu_only() -> None:
    for method in ("measured", "predicted"):
        with pytest.raises(LatencyError, match="use device 'cpu'"):
            make_latency_proxy(method, device="cuda", runtime="onnxruntime")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_onnxruntime_with_device_auto_runs_on_the_cpu_without_a_gpu() -> None:
    proxy = MeasuredLatencyProxy(device="auto", runtime="onnxruntime")
    assert proxy.provenance()["device"] == "cpu"
    assert {"onnxruntime", "onnx", "onnxscript"} <= set(proxy.provenance())


def test_calibration_models_are_predicted_exactly_but_a_lone_outlier_is_not_followed() -> None:
    raw = [5.0, 20.0, 40.0, 70.0, 110.0, 160.0, 210.0]
    measured = [1.1 * x * (1.0 + 0.04 * np.sin(x)) for x in raw]  # a smooth fit misses by ±4 %
    measured[3] *= 2.0  # one disturbed model
    quality = assess_calibration(list("abcdefg"), raw, measured)
    assert quality["outliers"] == ["d"]
    anchors = [tuple(anchor) for anchor in quality["anchors"]]
    for x, y, name in zip(raw, measured, "abcdefg", strict=True):
        value = predict(x, quality["scale"], quality["exponent"], anchors)
        if name == "d":
            assert value < 0.6 * y  # the disturbed timing is not what is predicted
        else:
            assert value == pytest.approx(y, rel=1e-4)  # T among them: W reads ratios to it
    between = predict(90.0, quality["scale"], quality["exponent"], anchors)
    assert 1.1 * 90 * 0.95 < between < 1.1 * 90 * 1.05
