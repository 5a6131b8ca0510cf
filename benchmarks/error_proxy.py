"""Benchmark of the error proxy at its default fidelity: against a reference, and against itself.

Two modes.

``--mode reference`` (the default) measures the proxy, at its defaults (width scale 16,
100 steps, sequence 16, batch 16, Θ = lr 1e-3/3e-3, best of Θ) but with 2 seeds so that its
noise can be measured, against the higher-fidelity reference that
`benchmarks/error_reference.py` trained (`benchmarks/results/error_reference.csv`), over the
reference's 24 shapes of the bert-large space. It prints:

* Spearman and Kendall τ between proxy ê and reference ê (mean over seeds of the best θ), each
  with a 90 % bootstrap interval (scipy.stats.bootstrap, percentile, shapes resampled in pairs);
  target: Spearman >= 0.8 at the interval's lower end;
* the error ratio of each shape to Bort, under the proxy and the reference, side by side (W
  divides by ê, so ratios decide the pick, not only ranks);
* spread / noise: the standard deviation of the shapes' errors across the set divided by the
  median over shapes of the seed standard deviation of one shape; target >= 5;
* the W argmax and top 5 over the reference set, with reference errors and with proxy errors, on
  the same p and i: W = ((p_T - p)/p_T) * ((i_T - i)/i_T) / ê with T = (12, 16, 1024, 3072),
  p the encoder-only parameter count (`count_parameters(a).without_embeddings`) and i, by
  default, a closed-form latency stand-in (`--latency flops`: the multiply-adds of one
  128-token sequence, D * (128 * (4H^2 + 2HI) + 2 * 128^2 * H); no timing, so this benchmark
  does not load the machine) or `--latency predicted` (`PredictedLatencyProxy` on this CPU,
  which times layers first). The reference's tie band holds the shapes whose W is within noise of
  the best: W_k (1 + z r_k) >= W_max (1 - z r_max), z = 1.645, r = seed std / sqrt(seeds) / ê;
* cost: CPU seconds of this process per candidate (all threads; the proxy trains on one), with
  the one-off set-up amortised over the 300 candidates of the bert-large space.

The reference's masked-LM errors, where present, are compared too (Spearman on the shapes that
have one), and so are the reference's two losses with each other.
With `--set error_loss=mlm` the proxy trains on plain masked-LM loss instead (no teacher, the
head on masked positions only) and is compared with the reference's masked-LM half, on the
shapes that have one.

``--mode self`` is the former check: the proxy at its defaults against the same proxy
trained 10x longer, on 10 shapes (three of them outside today's bert-large space).

Run (the proxy side trains ~24 shapes x ~3 s on the CPU; once trained, `--save` keeps the proxy's
values and `--proxy-json` re-prints the comparison without training):

    nice -n 10 python benchmarks/error_proxy.py --save benchmarks/results/error_proxy_values.json
    python benchmarks/error_proxy.py --proxy-json benchmarks/results/error_proxy_values.json
    nice -n 10 python benchmarks/error_proxy.py --set target_components=64   # one knob changed
    nice -n 10 python benchmarks/error_proxy.py --mode self
    # the masked-LM error loss against the reference's masked-LM half:
    nice -n 10 python benchmarks/error_proxy.py --set error_loss=mlm \
        --save benchmarks/results/error_loss_mlm_values.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import bootstrap, kendalltau, spearmanr

from bortnas.core.architecture import Architecture
from bortnas.core.theta import Hyperparameters
from bortnas.extraction.sensitivity import load_reference_errors
from bortnas.proxies.error import DistillationErrorProxy
from bortnas.proxies.training import DEFAULT_STEPS, DEFAULT_THETA

# --- mode self -----------------------------------------------------------------------------------

ARCHITECTURES = [
    (4, 8, 1024, 768),  # Bort
    (2, 16, 1024, 512),  # bort_2_16_512_1024
    (24, 16, 1024, 4096),  # BERT-large
    (12, 12, 768, 3072),  # BERT-base-like
    (2, 4, 512, 256),
    (8, 8, 768, 1024),
    (16, 4, 512, 2048),
    (6, 16, 768, 256),
    (20, 8, 512, 4096),
    (10, 8, 1024, 2048),
]
SELF_SPACE_SIZE = 630


def self_check(seeds: int, factor: int) -> None:
    archs = [Architecture(*shape) for shape in ARCHITECTURES]

    started = time.perf_counter()
    default = DistillationErrorProxy(seeds=seeds)
    default.prepare()  # cold one-off costs: corpus, tokenizer, teacher embeddings
    setup = time.perf_counter() - started
    short, seconds, cpu = {}, [], []
    for arch in archs:
        t, c = time.perf_counter(), time.thread_time()
        short[arch] = default.evaluate(arch).details["per_seed"]
        seconds.append((time.perf_counter() - t) / seeds)
        cpu.append((time.thread_time() - c) / seeds)
        print(
            f"  default {arch.name:22s} {np.round(short[arch], 4)} {seconds[-1]:.2f} s/seed",
            flush=True,
        )
    long_proxy = DistillationErrorProxy(steps=DEFAULT_STEPS * factor, seeds=1)
    long = {}
    for arch in archs:
        long[arch] = long_proxy.evaluate(arch).value
        print(f"  {factor}x     {arch.name:22s} {long[arch]:.4f}", flush=True)

    values = np.array([short[a] for a in archs])
    means = values.mean(1)
    noise = float(np.sqrt(np.mean(values.var(1, ddof=1)))) if seeds > 1 else float("nan")
    spread = float(means.std())
    longs = np.array([long[a] for a in archs])
    rho_seed0 = spearmanr(values[:, 0], longs).statistic
    rho_mean = spearmanr(means, longs).statistic
    per_candidate = float(np.mean(seconds)) + setup / SELF_SPACE_SIZE

    print(
        f"\nerror proxy, default fidelity: {default.steps} steps, Θ "
        f"{[s.label for s in default.theta]}, sequence {default.sequence_length}, width scale "
        f"{default.width_scale}, target components {default.target_components}; "
        f"{len(archs)} architectures; longer budget {factor}x steps"
    )
    print(
        f"{'architecture':24s} {'default (mean of seeds)':>24s} {'rank':>5s} "
        f"{str(factor) + 'x budget':>10s} {'rank':>5s}"
    )
    short_rank = means.argsort().argsort() + 1
    long_rank = longs.argsort().argsort() + 1
    for k in np.argsort(means):
        print(
            f"{archs[k].name:24s} {means[k]:14.4f} ± {values[k].std():.4f} {short_rank[k]:5d} "
            f"{longs[k]:10.4f} {long_rank[k]:5d}"
        )
    print(
        f"Spearman default (seed 0) vs {factor}x: {rho_seed0:.3f}   "
        f"(mean of {seeds} seeds vs {factor}x: {rho_mean:.3f})   target >= 0.8"
    )
    print(
        f"spread across architectures / seed noise: {spread:.4f} / {noise:.4f} = "
        f"{spread / noise:.1f}   target >= 5"
    )
    print(
        f"seconds per candidate (one seed, setup {setup:.1f} s amortised over "
        f"{SELF_SPACE_SIZE}): {per_candidate:.2f} s wall, {np.mean(cpu):.2f} s CPU of this thread"
    )


# --- mode reference -------------------------------------------------------------------------------

BORT = (4, 8, 1024, 768)
MAXIMUM = (12, 16, 1024, 3072)  # T of the bert-large space
SPACE_SIZE = 300  # candidates of the bert-large space, for amortising the set-up
LATENCY_TOKENS = 128
Z90 = 1.645


def load_reference(path: Path) -> dict[str, dict[tuple[int, int, int, int], dict[str, Any]]]:
    """loss -> shape -> {error (best θ's seed mean), std, seeds, rate, fidelity}: the package's
    reader (`bortnas.extraction.sensitivity.load_reference_errors`, the search's
    --reference-errors), so the benchmark and the sensitivity table read the CSV alike."""
    return load_reference_errors(path)


def closed_form_latency(shape: tuple[int, int, int, int]) -> float:
    """Multiply-adds of one 128-token sequence through the encoder: a latency stand-in."""
    depth, _, hidden, intermediate = shape
    tokens = LATENCY_TOKENS
    return float(
        depth
        * (
            tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
            + 2 * tokens * tokens * hidden
        )
    )


def measure_proxy(
    shapes: list[tuple[int, int, int, int]], seeds: int, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The search's default proxy (the class defaults plus the search's default Θ, as
    `SearchConfig` builds it) with `seeds` seeds on every shape, with CPU and wall seconds.
    `options` changes knobs of `DistillationErrorProxy` (a knob measured against the reference)."""
    proxy = DistillationErrorProxy(**{"theta": DEFAULT_THETA, "seeds": seeds, **(options or {})})
    wall, cpu = time.perf_counter(), time.process_time()
    proxy.prepare()
    setup = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    print(
        f"proxy: {proxy.steps} steps, Θ {[s.label for s in proxy.theta]}, width scale "
        f"{proxy.width_scale:g}, sequence {proxy.sequence_length}, {seeds} seeds, device "
        f"{proxy.device}, threads {proxy.threads}; set-up {setup['wall']:.1f} s wall, "
        f"{setup['cpu']:.1f} s CPU",
        flush=True,
    )
    results = []
    for shape in shapes:
        wall, cpu = time.perf_counter(), time.process_time()
        measurement = proxy.evaluate(Architecture(*shape))
        seconds = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        per_seed = measurement.details["per_seed"]
        results.append(
            {
                "shape": list(shape),
                "error": measurement.value,
                "per_seed": per_seed,
                "per_theta": [
                    {"learning_rate": t["learning_rate"], "value": t["value"]}
                    for t in measurement.details["per_theta"]
                ],
                "seconds": seconds,
            }
        )
        print(
            f"  {Architecture(*shape).name:22s} {measurement.value:.4f} "
            f"(seeds {np.round(per_seed, 4).tolist()}) {seconds['wall']:.2f} s wall, "
            f"{seconds['cpu']:.2f} s CPU",
            flush=True,
        )
    return {
        "settings": {
            "steps": proxy.steps,
            "theta": [s.to_dict() for s in proxy.theta],
            "width_scale": proxy.width_scale,
            "sequence_length": proxy.sequence_length,
            "seeds": seeds,
            "threads": proxy.threads,
            "device": proxy.device,
            "options": {
                k: [t.to_dict() for t in v] if k == "theta" else v
                for k, v in (options or {}).items()
            },
        },
        "provenance": {
            k: proxy.provenance()[k] for k in ("corpus", "teacher", "tokenizer", "libraries")
        },
        "setup": setup,
        "results": results,
    }


def _interval(x: np.ndarray, y: np.ndarray, statistic: Any) -> tuple[float, float]:
    result = bootstrap(
        (x, y),
        lambda a, b: statistic(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=2000,
        confidence_level=0.9,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _rank_line(name: str, x: np.ndarray, y: np.ndarray, *, interval: bool) -> str:
    rho, tau = spearmanr(x, y).statistic, kendalltau(x, y).statistic
    if not interval or len(x) < 6:
        return f"{name}: n {len(x)}, Spearman {rho:.3f}, Kendall τ {tau:.3f}"
    low, high = _interval(x, y, spearmanr)
    t_low, t_high = _interval(x, y, kendalltau)
    return (
        f"{name}: n {len(x)}, Spearman {rho:.3f} (90 % bootstrap [{low:.3f}, {high:.3f}]), "
        f"Kendall τ {tau:.3f} ([{t_low:.3f}, {t_high:.3f}])"
    )


def _spread_over_noise(errors: np.ndarray, stds: np.ndarray) -> tuple[float, float, float]:
    spread = float(np.std(errors, ddof=1))
    noise = float(np.nanmedian(stds))
    return spread, noise, spread / noise if noise > 0 else float("inf")


def _w_table(
    shapes: list[tuple[int, int, int, int]], errors: np.ndarray, latency: dict[tuple, float]
) -> np.ndarray:
    from bortnas.core.architecture import count_parameters
    from bortnas.extraction.wcoefficient import w_coefficients

    p = np.array([count_parameters(Architecture(*s)).without_embeddings for s in shapes], float)
    i = np.array([latency[s] for s in shapes], float)
    p_t = count_parameters(Architecture(*MAXIMUM)).without_embeddings
    return w_coefficients(
        p, i, errors, reference_parameters=float(p_t), reference_latency=latency[MAXIMUM]
    )


def _latencies(shapes: list[tuple[int, int, int, int]], method: str) -> dict[tuple, float]:
    wanted = list(dict.fromkeys([*shapes, MAXIMUM]))
    if method == "flops":
        return {s: closed_form_latency(s) for s in wanted}
    from bortnas import load_space
    from bortnas.proxies.latency_table import PredictedLatencyProxy

    proxy = PredictedLatencyProxy(space=load_space("bert-large"))
    return {s: proxy.evaluate(Architecture(*s)).value for s in wanted}


def compare(reference_path: Path, proxy: dict[str, Any], latency_method: str) -> None:
    """The proxy against the reference half of its own loss: embedding distillation by
    default, the masked-LM half when the proxy ran with `--set error_loss="mlm"`."""
    reference = load_reference(reference_path)
    measured_loss = _reference_loss(proxy)
    by_shape = {tuple(r["shape"]): r for r in proxy["results"]}
    print(
        f"\nreference {reference_path}: "
        + "; ".join(
            f"{loss}: {len(table)} shapes at (steps, width scale, sequence, batch, device) = "
            f"{next(iter(table.values()))['fidelity'][1:]}"
            for loss, table in reference.items()
        )
    )
    if measured_loss not in reference:
        raise SystemExit(f"the reference CSV has no {measured_loss}-loss rows")
    ref = reference[measured_loss]
    shapes = [s for s in ref if s in by_shape]
    missing = [s for s in ref if s not in by_shape]
    if missing:
        print(f"  (no proxy value for {len(missing)} reference shapes: {missing})")
    proxy_e = np.array([by_shape[s]["error"] for s in shapes])
    proxy_std = np.array([np.std(by_shape[s]["per_seed"], ddof=1) for s in shapes])
    ref_e = np.array([ref[s]["error"] for s in shapes])
    ref_std = np.array([ref[s]["std"] for s in shapes])
    names = [Architecture(*s).name for s in shapes]

    print(f"\nrank fidelity (proxy ê against reference ê, {measured_loss} loss):")
    print("  " + _rank_line("proxy vs reference", proxy_e, ref_e, interval=True))
    print("  target: Spearman >= 0.8 at the interval's lower end")
    seeds = len(by_shape[shapes[0]]["per_seed"])
    if seeds > 1:  # what fewer seeds would have given (the best θ as chosen on all of them)
        per_seed = np.array([by_shape[s]["per_seed"] for s in shapes])
        single = [spearmanr(per_seed[:, k], ref_e).statistic for k in range(seeds)]
        print(f"  Spearman of each single seed: {np.round(single, 3).tolist()}")
        if seeds >= 4:
            pairs = [
                spearmanr(per_seed[:, k : k + 2].mean(1), ref_e).statistic
                for k in range(0, seeds - 1, 2)
            ]
            print(f"  Spearman of seed pairs (0-1, 2-3, ...): {np.round(pairs, 3).tolist()}")
    if measured_loss == "embedding" and "mlm" in reference:
        mlm = reference["mlm"]
        common = [s for s in shapes if s in mlm]
        if len(common) >= 3:
            x = np.array([by_shape[s]["error"] for s in common])
            y = np.array([mlm[s]["error"] for s in common])
            z = np.array([ref[s]["error"] for s in common])
            print(
                "  "
                + _rank_line("proxy vs reference masked LM", x, y, interval=len(common) >= 10)
                + " (only the shapes whose masked-LM run finished)"
            )
            print(
                "  "
                + _rank_line("reference embedding vs reference masked LM", z, y, interval=False)
            )

    bort = shapes.index(BORT) if BORT in shapes else None
    print("\nratio fidelity: ê / ê(Bort), sorted by the reference's ê")
    print(
        f"  {'shape':22s} {'proxy ê':>9s} {'± seed sd':>9s} {'ref ê':>9s} {'± seed sd':>9s} "
        f"{'proxy/Bort':>10s} {'ref/Bort':>9s} {'ref lr':>7s}"
    )
    for k in np.argsort(ref_e):
        proxy_ratio = proxy_e[k] / proxy_e[bort] if bort is not None else float("nan")
        ref_ratio = ref_e[k] / ref_e[bort] if bort is not None else float("nan")
        print(
            f"  {names[k]:22s} {proxy_e[k]:9.4f} {proxy_std[k]:9.4f} {ref_e[k]:9.4f} "
            f"{ref_std[k]:9.4f} {proxy_ratio:10.3f} {ref_ratio:9.3f} {ref[shapes[k]]['rate']:7.0e}"
        )
    if bort is not None:
        spread_p = np.ptp(proxy_e / proxy_e[bort])
        spread_r = np.ptp(ref_e / ref_e[bort])
        print(
            f"  range of the ratio to Bort: proxy {spread_p:.3f}, reference {spread_r:.3f}; "
            f"median |proxy ratio - reference ratio| "
            f"{np.median(np.abs(proxy_e / proxy_e[bort] - ref_e / ref_e[bort])):.3f}"
        )

    print("\nnoise: spread across the set (sd of the shapes' ê) / median seed sd of one shape")
    for label, errors, stds in (("proxy", proxy_e, proxy_std), ("reference", ref_e, ref_std)):
        spread, noise, ratio = _spread_over_noise(errors, stds)
        print(f"  {label:9s}: {spread:.4f} / {noise:.4f} = {ratio:.1f}   target >= 5")
    core = ref_e < np.median(ref_e) * 1.5
    if not core.all():
        print(
            f"  without the {int((~core).sum())} shapes whose reference ê is > 1.5x the median "
            "(reference runs that trained badly at its Θ):"
        )
        for label, errors, stds in (("proxy", proxy_e, proxy_std), ("reference", ref_e, ref_std)):
            spread, noise, ratio = _spread_over_noise(errors[core], stds[core])
            print(f"  {label:9s}: {spread:.4f} / {noise:.4f} = {ratio:.1f}")
        print("  " + _rank_line("proxy vs reference", proxy_e[core], ref_e[core], interval=True))

    latency = _latencies(shapes, latency_method)
    w_ref = _w_table(shapes, ref_e, latency)
    w_proxy = _w_table(shapes, proxy_e, latency)
    seeds = np.array([ref[s]["seeds"] for s in shapes])
    rel = ref_std / np.sqrt(seeds) / ref_e
    best = int(np.argmax(w_ref))
    band = [
        k
        for k in range(len(shapes))
        if w_ref[k] * (1 + Z90 * rel[k]) >= w_ref[best] * (1 - Z90 * rel[best])
    ]
    ref_rank = (-w_ref).argsort().argsort() + 1
    proxy_rank = (-w_proxy).argsort().argsort() + 1
    latency_name = (
        "closed-form multiply-adds of a 128-token sequence (stand-in)"
        if latency_method == "flops"
        else "PredictedLatencyProxy (this CPU)"
    )
    print(
        f"\nend to end: W over the {len(shapes)} reference shapes, T = "
        f"{Architecture(*MAXIMUM).name}, p = encoder-only parameters, i = {latency_name}"
    )
    print(
        f"  {'rank':>4s} {'by reference ê':24s} {'W':>8s}   {'by proxy ê':24s} {'W':>8s} "
        f"{'ref rank':>8s}"
    )
    ref_order, proxy_order = np.argsort(-w_ref), np.argsort(-w_proxy)
    for r in range(5):
        a, b = ref_order[r], proxy_order[r]
        print(
            f"  {r + 1:4d} {names[a]:24s} {w_ref[a]:8.3f}   {names[b]:24s} {w_proxy[b]:8.3f} "
            f"{ref_rank[b]:8d}"
        )
    pick = int(proxy_order[0])
    print(
        f"  reference pick {names[best]}, proxy pick {names[pick]} (reference rank "
        f"{ref_rank[pick]}, W {w_ref[pick]:.3f} = {w_ref[pick] / w_ref[best]:.1%} of the best); "
        f"reference tie band (90 %, seed noise): {[names[k] for k in band]}; proxy pick "
        f"{'inside' if pick in band else 'outside'} it"
    )
    overlap = len(set(ref_order[:5]) & set(proxy_order[:5]))
    print(
        f"  top 5 overlap {overlap}/5; Spearman of W, proxy vs reference: "
        f"{spearmanr(w_proxy, w_ref).statistic:.3f}; Bort: reference rank "
        f"{ref_rank[bort] if bort is not None else '-'}, proxy rank "
        f"{proxy_rank[bort] if bort is not None else '-'}"
    )

    cpu = np.array([by_shape[s]["seconds"]["cpu"] for s in shapes])
    wall = np.array([by_shape[s]["seconds"]["wall"] for s in shapes])
    setup = proxy["setup"]
    settings = proxy["settings"]
    print(
        f"\ncost per candidate ({settings['seeds']} seeds x {len(settings['theta'])} θ as "
        f"replicas, {settings['threads']} thread(s), {settings['device']}): "
        f"{cpu.mean():.2f} s CPU, {wall.mean():.2f} s wall (median {np.median(cpu):.2f} s CPU, "
        f"max {cpu.max():.2f}); set-up {setup['cpu']:.1f} s CPU amortised over {SPACE_SIZE} "
        f"candidates: +{setup['cpu'] / SPACE_SIZE:.2f} s; a cold bert-large search: "
        f"{(cpu.mean() * SPACE_SIZE + setup['cpu']) / 60:.1f} CPU minutes"
    )


def _knob(text: str) -> Any:
    """A --set value: JSON (numbers, lists, quoted strings), else the bare word (error_loss=mlm)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _reference_loss(proxy: dict[str, Any]) -> str:
    """The reference loss a proxy run is compared with: "mlm" for `error_loss` mlm."""
    options = proxy.get("settings", {}).get("options", {})
    return "mlm" if options.get("error_loss") == "mlm" else "embedding"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("reference", "self"), default="reference")
    parser.add_argument(
        "--reference",
        default="benchmarks/results/error_reference.csv",
        help="reference CSV of benchmarks/error_reference.py",
    )
    parser.add_argument("--seeds", type=int, help="proxy seeds (reference 2, self 3)")
    parser.add_argument("--factor", type=int, default=10, help="self: longer budget = factor x")
    parser.add_argument(
        "--latency",
        choices=("flops", "predicted"),
        default="flops",
        help="i of W: closed-form stand-in (default) or PredictedLatencyProxy (times this CPU)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="change a DistillationErrorProxy knob (JSON value), e.g. --set target_components=64; "
        "theta takes a list of learning rates, e.g. --set 'theta=[1e-3, 3e-3]'",
    )
    parser.add_argument("--save", help="write the proxy's values to this JSON")
    parser.add_argument("--proxy-json", help="re-use the proxy's values saved with --save")
    args = parser.parse_args()
    if args.mode == "self":
        self_check(args.seeds or 3, args.factor)
        return
    reference_path = Path(args.reference)
    if args.proxy_json:
        proxy = json.loads(Path(args.proxy_json).read_text(encoding="utf-8"))
    else:
        shapes = list(load_reference(reference_path).get("embedding", {}))
        if not shapes:
            raise SystemExit(f"{reference_path}: no embedding-loss rows")
        options = {k: _knob(v) for k, v in (item.split("=", 1) for item in args.set)}
        if "theta" in options:  # a list of learning rates: Θ at the default batch, warm-up, decay
            options["theta"] = tuple(Hyperparameters(learning_rate=r) for r in options["theta"])
        proxy = measure_proxy(shapes, args.seeds or 2, options)
        if args.save:
            Path(args.save).parent.mkdir(parents=True, exist_ok=True)
            Path(args.save).write_text(json.dumps(proxy, indent=1), encoding="utf-8")
    compare(reference_path, proxy, args.latency)


if __name__ == "__main__":
    main()
