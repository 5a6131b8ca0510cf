"""A higher-fidelity reference for the error proxy: fixed shapes, trained far longer and wider.

Why: the error proxy (`bortnas.proxies.error`, 1/16 width, 100 steps, sequence 16)
decides the search's pick, and W divides by ê, so its ranks *and* its ratios must match what
longer, wider training says. This script trains a fixed set of 24 shapes of the `bert-large`
space with the proxy's own machinery (`DistillationErrorProxy`: the same students, data, masks
and held-out scoring) at a much higher fidelity, under two losses:

* ``embedding``: the proxy's default loss, 1 - cos to all-MiniLM-L6-v2's leading centred
  principal directions of its sentence embeddings (``--target-components``, 16 as the proxy);
* ``mlm``: plain masked-LM cross-entropy (``teacher="none"``), the pre-training task itself.

Fidelity, against the proxy's defaults (width scale 16, 100 steps, sequence 16, batch 16,
Θ = lr 1e-3/3e-3 (`DEFAULT_THETA`; until version 4 also 3e-4), 1 seed, 128 held-out
documents):

=================  ==============================  ==================================
knob               ``--device cpu`` default        ``--device cuda`` default
=================  ==============================  ==================================
width scale        4 (H' = H/4, I' = I/4)          2
steps              1000 (10x)                      1000 (10x)
batch size         8                               32
sequence length    32 (2x)                         64 (4x)
seeds              2 (seeds 0 and 1)               2
Θ, embedding loss  lr 3e-4, 1e-3 (best of)         lr 3e-4, 1e-3 (best of)
Θ, masked LM       lr 3e-4                         lr 3e-4, 1e-3 (best of)
held-out docs      256                             512
=================  ==============================  ==================================

Both add gradient clipping at norm 1 (BERT pre-training's setting; the proxy clips nothing) and
keep the proxy's schedule (10 % linear warm-up, linear decay, AdamW, weight decay 0.01). Θ is
best-of, as in the proxy and the paper: a shape's reference error for a loss is the mean over
seeds of the θ with the lowest seed mean. Wider students and longer budgets want smaller steps
than the proxy's 1/16-width students, hence 3e-4 and 1e-3 (on the GPU run, 1e-3 won for the
shallow and narrow shapes, 3e-4 for deep or H 1024 ones; every masked-LM run that finished chose
3e-4, with 1e-3 stuck at 7.20-7.34 nats per run in `benchmarks/results/error_reference.csv`,
which is why the CPU default trains masked LM at 3e-4 alone). All θ and seeds of a (shape, loss)
train together as replicas of one vectorised pass.
On CUDA, matrix products use TF32 (`torch.set_float32_matmul_precision("high")`).

Why sequence 32 on the CPU: documents of the default corpus average 25 tokens (median 21), so a
batch padded to its longest document costs ~54 positions at a 64-token cap but ~32 at a 32-token
cap, for 88 % of the real tokens (21.6 against 24.4 per document; the proxy's cap of 16 keeps 14.7).

Output: one CSV row per trained student, i.e. per (shape, loss, θ, seed), with the columns
``D, A, H, I, seed, steps, width_scale, error, loss, sequence_length, learning_rate,
batch_size, theta_best, device, seconds``: ``theta_best`` is 1 on the rows of the θ that is best
for that shape and loss, ``seconds`` the wall time of the whole pass that trained every θ and
seed of that (shape, loss) together (with ``--workers N`` > 1, while N passes shared the device).
Rows of one (shape, loss) are appended and flushed to disk in one write as soon as its pass ends,
so the script is resumable: a re-run with the same settings skips every (shape, loss) already in
``--out``, and a kill loses at most the runs in flight (one, with ``--workers 1``). Progress goes
to stdout, one line per run, without a TTY.

Cost: ``python benchmarks/error_reference.py --device cpu`` (24 shapes; embedding 2 θ x 2 seeds,
masked LM 1 θ x 2 seeds) is estimated at about 2 hours on a 2-core CPU, from timed short runs
on a shared 2-core machine (`benchmarks/results/error_reference.md` gives the figures and how
uncertain they are). On a GPU, ``--device cuda``; ``--workers N`` trains N passes at once on
the one GPU (separate processes), and ``--time-budget S`` starts no new run after S seconds
(runs are ordered: every shape's embedding run first, then the masked-LM runs; with workers,
largest first). On one H200, with 4 to 6 workers, the 24 embedding runs took ~6 minutes and the
masked-LM runs ~40 s each of GPU time; a full cuda reference needs ~20-25 minutes.

    python benchmarks/error_reference.py --device cpu            # ~2 h on 2 cores, resumable
    python benchmarks/error_reference.py --device cuda --workers 4 --corpus corpus.txt
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Deterministic cuBLAS (the proxy turns deterministic algorithms on, warn-only on CUDA).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

#: The reference set: 24 shapes (D, A, H, I) of the bert-large space (D 2-12, A 4-16, H 512/768/
#: 1024, I 256-3072; A 12 only with H 768, as in the space). Chosen once, by hand, before any
#: result, to cover each depth 4 times and each H, I and A at least 3 times, in mixed
#: combinations (not a grid), with the four named shapes first. Counts: D 2,4,6,8,10,12:
#: 4 each; H 512:6, 768:10, 1024:8; I 256:5, 512:5, 768:3, 1024:5, 3072:6; A 4:6, 8:7, 12:5, 16:6.
REFERENCE_ARCHITECTURES: list[tuple[int, int, int, int]] = [
    (4, 8, 1024, 768),  # Bort
    (2, 16, 1024, 512),  # the paper's bort_2_16_512_1024 neighbour
    (12, 16, 1024, 3072),  # the maximum point T of the space
    (12, 12, 768, 3072),  # BERT-base-like
    (2, 4, 512, 256),  # the smallest shape
    (2, 8, 768, 1024),
    (2, 12, 768, 3072),
    (4, 4, 512, 3072),
    (4, 16, 768, 256),
    (4, 12, 768, 512),
    (6, 8, 512, 768),
    (6, 16, 1024, 1024),
    (6, 4, 768, 3072),
    (6, 8, 1024, 512),
    (8, 4, 1024, 256),
    (8, 12, 768, 768),
    (8, 16, 512, 1024),
    (8, 8, 1024, 3072),
    (10, 16, 768, 512),
    (10, 4, 512, 1024),
    (10, 8, 1024, 256),
    (10, 12, 768, 1024),
    (12, 4, 512, 512),
    (12, 8, 768, 256),
]
LOSSES = ("embedding", "mlm")
COLUMNS = [
    "D",
    "A",
    "H",
    "I",
    "seed",
    "steps",
    "width_scale",
    "error",
    "loss",
    "sequence_length",
    "learning_rate",
    "batch_size",
    "theta_best",
    "device",
    "seconds",
]
DEFAULTS = {
    "cpu": {
        "width_scale": 4.0,
        "steps": 1000,
        "batch_size": 8,
        "sequence_length": 32,
        "seeds": 2,
        "learning_rates": (3e-4, 1e-3),
        "mlm_learning_rates": (3e-4,),
        "eval_size": 256,
    },
    "cuda": {
        "width_scale": 2.0,
        "steps": 1000,
        "batch_size": 32,
        "sequence_length": 64,
        "seeds": 2,
        "learning_rates": (3e-4, 1e-3),
        "mlm_learning_rates": (3e-4, 1e-3),
        "eval_size": 512,
    },
}
MAX_GRAD_NORM = 1.0


def _theta(settings: dict[str, Any], loss: str) -> tuple[Any, ...]:
    from bortnas.core.theta import Hyperparameters

    rates = settings["mlm_learning_rates" if loss == "mlm" else "learning_rates"]
    return tuple(
        Hyperparameters(learning_rate=rate, batch_size=settings["batch_size"]) for rate in rates
    )


def build_proxies(settings: dict[str, Any], device: str, teacher_device: str) -> dict[str, Any]:
    """One `DistillationErrorProxy` per loss, sharing the corpus and the tokenizer."""
    from bortnas.proxies.error import DistillationErrorProxy
    from bortnas.proxies.teacher import load_embedding_teacher
    from bortnas.text.corpus import load_corpus
    from bortnas.text.tokenizer import load_tokenizer, train_tokenizer

    corpus = load_corpus(settings["corpus"])
    if settings["tokenizer"]:
        tokenizer = load_tokenizer(settings["tokenizer"])
    else:
        tokenizer = train_tokenizer(corpus)
    common = {
        "steps": settings["steps"],
        "seeds": settings["seeds"],
        "width_scale": settings["width_scale"],
        "sequence_length": settings["sequence_length"],
        "eval_size": settings["eval_size"],
        "max_grad_norm": MAX_GRAD_NORM,
        "threads": settings["threads"],
        "device": device,
        "corpus": corpus,
        "tokenizer": tokenizer,
    }
    proxies: dict[str, Any] = {}
    for loss in settings["losses"]:
        if loss == "embedding":
            teacher = load_embedding_teacher(settings["teacher"] or None, device=teacher_device)
            proxies[loss] = DistillationErrorProxy(
                teacher=teacher,
                target_components=settings["target_components"],
                theta=_theta(settings, loss),
                **common,
            )
        else:
            proxies[loss] = DistillationErrorProxy(
                teacher="none", theta=_theta(settings, loss), **common
            )
    return proxies


def _configure_torch(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.set_float32_matmul_precision("high")


def run_job(proxies: dict[str, Any], job: tuple[tuple[int, int, int, int], str]) -> dict[str, Any]:
    """Train every θ and seed of one (shape, loss) in one pass; the per-student errors."""
    from bortnas.core.architecture import Architecture

    shape, loss = job
    measurement = proxies[loss].evaluate(Architecture(*shape))
    per_theta = measurement.details["per_theta"]
    best = measurement.details["theta_best"]
    return {
        "shape": shape,
        "loss": loss,
        "per_theta": [(entry["learning_rate"], entry["per_seed"]) for entry in per_theta],
        "best": best,
        "seconds": measurement.details["train_seconds"],
        "value": measurement.value,
        "device": measurement.details["device"],
    }


# --- worker processes (--workers > 1) ---------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(settings: dict[str, Any], device: str) -> None:
    _configure_torch(device)
    _WORKER["proxies"] = build_proxies(settings, device, device)
    for proxy in _WORKER["proxies"].values():
        proxy.prepare()  # every teacher row is cached by the parent already


def _worker_job(item: tuple[tuple[tuple[int, int, int, int], str], float]) -> dict[str, Any] | None:
    job, deadline = item
    if time.time() > deadline:
        return None
    return run_job(_WORKER["proxies"], job)


# --- the CSV ----------------------------------------------------------------------------------


def _run_key(row: dict[str, Any]) -> tuple:
    return (
        int(row["D"]),
        int(row["A"]),
        int(row["H"]),
        int(row["I"]),
        str(row["loss"]),
        int(row["steps"]),
        float(row["width_scale"]),
        int(row["sequence_length"]),
        int(row["batch_size"]),
    )


def done_runs(path: Path) -> dict[tuple, set[tuple[int, float]]]:
    """(shape, loss, fidelity) -> the (seed, learning rate) students already in the CSV."""
    done: dict[tuple, set[tuple[int, float]]] = {}
    if not path.is_file():
        return done
    with path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            try:
                key = _run_key(row)
                done.setdefault(key, set()).add((int(row["seed"]), float(row["learning_rate"])))
            except (KeyError, TypeError, ValueError):
                continue  # a torn last line from a kill: that run is simply redone
    return done


def append_rows(path: Path, result: dict[str, Any], settings: dict[str, Any]) -> None:
    """Every student of one run, in one write, flushed and synced."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    new = not path.is_file() or path.stat().st_size == 0
    if new:
        writer.writeheader()
    d, a, h, i = result["shape"]
    for k, (rate, per_seed) in enumerate(result["per_theta"]):
        for seed, value in enumerate(per_seed):
            writer.writerow(
                {
                    "D": d,
                    "A": a,
                    "H": h,
                    "I": i,
                    "seed": seed,
                    "steps": settings["steps"],
                    "width_scale": settings["width_scale"],
                    "error": f"{value:.6f}",
                    "loss": result["loss"],
                    "sequence_length": settings["sequence_length"],
                    "learning_rate": f"{rate:g}",
                    "batch_size": settings["batch_size"],
                    "theta_best": int(k == result["best"]),
                    "device": result["device"],
                    "seconds": f"{result['seconds']:.2f}",
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(buffer.getvalue())
        stream.flush()
        os.fsync(stream.fileno())


def _pass_cost(shape: tuple[int, int, int, int], loss: str) -> float:
    """Relative cost of one pass: weights touched per token (the vocabulary head for masked LM)."""
    depth, _, hidden, intermediate = shape
    return depth * (4 * hidden * hidden + 2 * hidden * intermediate) + (
        hidden * 8192 if loss == "mlm" else 0
    )


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            timeout=10,
        )
        commit = out.stdout.decode().strip() or "unknown"
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _rates(rates: tuple[float, ...]) -> str:
    return ",".join(f"{rate:g}" for rate in rates)


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--width-scale", type=float, help="student width = H/scale (cpu 4, cuda 2)")
    parser.add_argument("--steps", type=int, help="training steps (default 1000: 10x the proxy)")
    parser.add_argument("--seeds", type=int, help="seeds per θ (default 2)")
    parser.add_argument("--sequence-length", type=int, help="tokens per document (cpu 32, cuda 64)")
    parser.add_argument("--batch-size", type=int, help="documents per step (cpu 8, cuda 32)")
    parser.add_argument(
        "--learning-rates", help="Θ of the embedding loss, comma-separated (default 3e-4,1e-3)"
    )
    parser.add_argument(
        "--mlm-learning-rates", help="Θ of the masked-LM loss (cpu 3e-4; cuda 3e-4,1e-3)"
    )
    parser.add_argument("--eval-size", type=int, help="held-out documents (cpu 256, cuda 512)")
    parser.add_argument(
        "--target-components",
        type=int,
        default=16,
        help="embedding loss: leading teacher directions (default 16, the proxy's)",
    )
    parser.add_argument("--losses", default=",".join(LOSSES), help="embedding,mlm (default both)")
    parser.add_argument("--limit", type=int, help="only the first N shapes (for a quick test)")
    parser.add_argument("--corpus", help="corpus text file (default: the Debian corpus)")
    parser.add_argument("--teacher", help="teacher folder (default: installed all-MiniLM-L6-v2)")
    parser.add_argument("--tokenizer", help="student tokenizer.json (default: trained on corpus)")
    parser.add_argument("--threads", type=int, help="torch threads per pass (default: all cores)")
    parser.add_argument("--workers", type=int, default=1, help="passes at once (default 1)")
    parser.add_argument("--time-budget", type=float, help="start no run after this many seconds")
    parser.add_argument(
        "--out", default="benchmarks/results/error_reference.csv", help="CSV to append to"
    )
    args = parser.parse_args(argv)
    started = time.time()

    from bortnas.core.device import resolve_device

    device = resolve_device(args.device)
    base = DEFAULTS["cuda" if device.startswith("cuda") else "cpu"]

    def rate_list(text: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(float(x) for x in text.split(",")) if text else default

    rates = rate_list(args.learning_rates, base["learning_rates"])
    mlm_rates = rate_list(args.mlm_learning_rates, base["mlm_learning_rates"])
    losses = tuple(x.strip() for x in args.losses.split(",") if x.strip())
    if not losses or any(loss not in LOSSES for loss in losses):
        parser.error(f"--losses takes {', '.join(LOSSES)}")
    threads = args.threads or (os.cpu_count() or 1)
    if args.workers > 1:
        threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    settings = {
        "width_scale": float(args.width_scale or base["width_scale"]),
        "steps": args.steps or base["steps"],
        "batch_size": args.batch_size or base["batch_size"],
        "sequence_length": args.sequence_length or base["sequence_length"],
        "seeds": args.seeds or base["seeds"],
        "learning_rates": rates,
        "mlm_learning_rates": mlm_rates,
        "eval_size": args.eval_size or base["eval_size"],
        "target_components": args.target_components,
        "losses": losses,
        "corpus": args.corpus,
        "teacher": args.teacher,
        "tokenizer": args.tokenizer,
        "threads": threads,
    }
    shapes = REFERENCE_ARCHITECTURES[: args.limit] if args.limit else REFERENCE_ARCHITECTURES
    out = Path(args.out)
    done = done_runs(out)
    jobs = []
    for loss in losses:
        wanted = {
            (seed, rate)
            for seed in range(settings["seeds"])
            for rate in (mlm_rates if loss == "mlm" else rates)
        }
        for shape in shapes:
            key = (
                *shape,
                loss,
                settings["steps"],
                settings["width_scale"],
                settings["sequence_length"],
                settings["batch_size"],
            )
            if not wanted <= done.get(key, set()):
                jobs.append((shape, loss))
    skipped = len(shapes) * len(losses) - len(jobs)
    if args.workers > 1:
        # Longest first within each loss, so that no large pass starts last and runs on alone.
        jobs.sort(key=lambda job: (losses.index(job[1]), -_pass_cost(job[0], job[1])))

    import torch

    _configure_torch(device)
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "-"
    print(
        f"error reference: {len(shapes)} shapes x {len(losses)} losses, {len(jobs)} runs to do "
        f"({skipped} already in {out}); device {device} ({gpu}), width scale "
        f"{settings['width_scale']:g}, {settings['steps']} steps, batch {settings['batch_size']}, "
        f"sequence {settings['sequence_length']}, Θ lr {_rates(rates)} (masked LM "
        f"{_rates(mlm_rates)}), "
        f"{settings['seeds']} seeds, {settings['eval_size']} held-out docs, clip "
        f"{MAX_GRAD_NORM:g}, threads {threads}, workers {args.workers}; torch "
        f"{torch.__version__}; commit {_git_commit()}",
        flush=True,
    )
    if not jobs:
        return 0
    # Set-up once here (corpus, tokenizer, teacher targets: cached on disk for the workers).
    setup_started = time.time()
    proxies = build_proxies(settings, device if args.workers == 1 else "cpu", device)
    for loss, proxy in proxies.items():
        proxy.prepare()
        provenance = proxy.provenance()
        print(
            f"  set-up {loss}: mode {proxy.mode}, corpus {provenance.get('corpus')}, teacher "
            f"{provenance.get('teacher')}, tokenizer {provenance.get('tokenizer')}",
            flush=True,
        )
    print(f"  set-up {time.time() - setup_started:.1f} s", flush=True)
    training_started = time.time()
    deadline = started + args.time_budget if args.time_budget else float("inf")

    finished = 0
    run_seconds: list[float] = []

    def report(result: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        append_rows(out, result, settings)
        run_seconds.append(result["seconds"])
        elapsed = time.time() - started
        left = len(jobs) - finished
        eta = left * (time.time() - training_started) / finished
        d, a, h, i = result["shape"]
        thetas = " ".join(f"{rate:g}:{sum(v) / len(v):.4f}" for rate, v in result["per_theta"])
        print(
            f"[{finished}/{len(jobs)}] {result['loss']:9s} D{d}-A{a}-H{h}-I{i} "
            f"error {result['value']:.4f} (lr {result['per_theta'][result['best']][0]:g}; "
            f"by lr {thetas}) {result['seconds']:.1f} s; elapsed {_format_duration(elapsed)}, "
            f"~{_format_duration(eta)} left",
            flush=True,
        )

    skipped_late = 0
    if args.workers == 1:
        for job in jobs:
            if time.time() > deadline:
                skipped_late += 1
                continue
            report(run_job(proxies, job))
    else:
        import multiprocessing

        del proxies
        context = multiprocessing.get_context("spawn")
        with context.Pool(
            args.workers, initializer=_worker_init, initargs=(settings, device)
        ) as pool:
            for result in pool.imap_unordered(_worker_job, [(job, deadline) for job in jobs]):
                if result is None:
                    skipped_late += 1
                else:
                    report(result)
    total = time.time() - started
    print(
        f"done: {finished} runs in {_format_duration(total)} "
        f"(mean pass {sum(run_seconds) / max(1, len(run_seconds)):.1f} s)"
        + (f"; {skipped_late} runs not started (time budget)" if skipped_late else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
