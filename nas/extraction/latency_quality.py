"""What the report says about the latency table's trustworthiness, from its quality record.

Why its own module: a tie band or a verdict about Bort is only as sure as the latencies under it,
so every place that prints one (the terminal report, `summary.json`, the notebooks) states the
calibration's quality beside it, in the same words. The record itself is made by the latency
proxy (`bortnas.proxies.latency_table`) and stored with the study's latency epoch.
"""

from __future__ import annotations

from typing import Any


def latency_reliable(quality: dict[str, Any] | None) -> bool:
    """False when the calibration failed its gate: latency ratios, W and the band may be off."""
    return quality is None or bool(quality.get("passed", True))


def latency_quality_line(quality: dict[str, Any] | None) -> str:
    """One line: the calibration's fit and gate, and how busy the machine was."""
    if quality is None:
        return "latency: no quality record (an epoch timed before quality was recorded)"
    probe = quality.get("probe") or {}
    used = quality.get("threads_used", probe.get("threads"))
    machine = (
        f"timed on {used} of {probe.get('threads')} thread(s); "
        f"probe speed-up {probe.get('speedup', 0):.2f}x, "
        f"drift {probe.get('drift', 1):.2f}x: "
        + ("BUSY" if probe.get("busy") else "drifting" if probe.get("drifted") else "quiet")
    )
    if quality.get("fit") is None:
        return f"latency: every candidate timed; {machine}"
    if "scale" in quality:
        form = f"x{quality['scale']:.3f} ^{quality['exponent']:.3f}"
    else:  # an epoch timed by an earlier scheme (an affine fit)
        form = f"slope {quality.get('slope', float('nan')):.3f}"
    worst = quality.get("max_loo_relative_error")
    worst_text = "n/a" if worst is None else f"{100 * worst:.1f} %"
    verdict = "passed" if quality.get("passed") else "FAILED"
    return (
        f"latency calibration {verdict} ({quality['fit']}, {form}, "
        f"worst leave-one-out error {worst_text} over "
        f"{len(quality.get('points', []))} models, {quality.get('rounds', '?')} rounds, "
        f"{quality.get('retimed', 0)} re-timing(s)); {machine}"
    )


def latency_notes(quality: dict[str, Any] | None) -> list[str]:
    """Notes for the run's summary when the latency cannot be fully trusted (else none)."""
    if quality is None:
        return []
    notes = []
    probe = quality.get("probe") or {}
    if not latency_reliable(quality):
        notes.append(
            "latency calibration failed its quality gate ("
            + "; ".join(quality.get("reasons", []))
            + "): latency ratios, W and the tie band are unreliable; run again with "
            "--remeasure when the machine is quiet"
        )
    used, asked = quality.get("threads_used"), probe.get("threads")
    if used is not None and asked is not None and used < asked:
        notes.append(
            f"another process held a core while latency was timed (probe speed-up "
            f"{quality['before_timing']['speedup']:.2f}x of {asked}), so the table was timed on "
            f"{used} of {asked} threads: W's latency ratios stay close to the quiet ones, the "
            "milliseconds do not; run again with --remeasure when the machine is quiet"
        )
    elif probe.get("busy"):
        notes.append(
            f"the machine was busy while latency was timed (a {probe.get('threads')}-thread "
            f"probe ran only {probe.get('speedup', 0):.2f}x faster than one thread): each "
            "entry keeps its fastest call over interleaved rounds, but long models are slowed "
            "more than short ones, so latency ratios may be off by 20 % or more "
            "(benchmarks/latency_in_search.py); run again with --remeasure on a quiet machine"
        )
    elif probe.get("drifted"):
        notes.append(
            f"the machine's speed drifted by {probe.get('drift', 1):.2f}x while latency was "
            "timed; interleaved rounds spread drift over every entry alike"
        )
    return notes
