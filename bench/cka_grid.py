"""Benchmark: seconds for the whole CKA grid of the paper's comparison, from scratch per layer pair
against the project's per-model preparation, in one run, on the same features.

What is computed
----------------
15 models (gmn, mlp, cnn x seeds 0..4), each with 5 representation layers of the project's widths
on MNIST: GMN [128] * 5, MLP [256, 256, 256, 256, 128], CNN flattened block outputs
[6272, 3136, 1024, 512, 128] (32/64/64/128 channels at 14x14, 7x7, 4x4, 2x2, then 128), for N probe
samples (``--sizes``, default 2000 and 10000). The grid's 30 model pairs: within each architecture
the seed pairs (s, s+1 mod 5), across architectures (gmn-mlp, gmn-cnn, mlp-cnn) the pairs with the
same seed s; each model pair gives a 5 x 5 matrix of CKA values (25 layer pairs): 750 values.

Features: random but shaped like activations: relu(Z W + noise / 2) in float32, where Z (N x 32) is
shared by all models (the probe inputs) and W (32 x width) is drawn per model and layer, so that
CKA values are spread over (0, 1) and every layer has its full rank min(N - 1, width). Timing
depends on the shapes only (and the rank, full here; real activations can only be cheaper: dead
ReLU units are constant columns, which CKA leaves out).

Two sides (``--estimator linear``, the default):
(a) from scratch: ``gmnrep.representations.cka.linear_cka(X, Y)`` for every layer pair of every model pair; it picks
    the cheaper of the feature and the Gram form for each pair: the best plain version;
(b) the project: ``gmnrep.representations.cka.prepare`` every model layer once (75), then ``cka_matrix`` per model
    pair (30); the time includes preparing.
With ``--estimator minibatch`` the same with ``minibatch_cka(X, Y, --batch-size, seed 0)`` against
``prepare(X, "minibatch", --batch-size)`` + ``cka_matrix``.

Before the summary, the two grids are compared: max |difference| must be below 1e-8 (else a WARNING).

Grids with N above ``--subset-above`` (default 5000) take too long from scratch (N = 10000: ~17 min
per run on these 2 cores): side (a) then runs one model pair of each of the six kinds (gmn-gmn, mlp-mlp, cnn-cnn,
gmn-mlp, gmn-cnn, mlp-cnn: the seed-0 pair) and its time is extrapolated to the 30 pairs by
multiplying by 5. That is exact in expectation: the five pairs of a kind have identical shapes and
the same work. The agreement check then covers those six pairs. Side (b) always runs the full grid.

For each thread count of ``--threads`` (default 1 and 2: numpy's BLAS threads, which do all the work),
the sides take turns ``--repeats`` times (round robin, so that load from other processes on a
shared machine falls on both alike); the median counts, and each side's best thread count is
reported with the ratio (a) / (b).

Run (from the repository root)::

    .venv/bin/python bench/cka_grid.py --sizes 2000 --repeats 3
    .venv/bin/python bench/cka_grid.py --sizes 10000 --repeats 1 --threads 2
    .venv/bin/python bench/cka_grid.py --estimator minibatch --batch-size 1000
"""

import pinned_numerics  # noqa: F401 (first: CPU numerics pinned before numpy loads, as in every job)

# isort: split
import argparse
import os
import resource
import statistics
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

from gmnrep.provenance.records import cpu_model
from gmnrep.representations import cka

WIDTHS = {"gmn": [128] * 5, "mlp": [256, 256, 256, 256, 128], "cnn": [6272, 3136, 1024, 512, 128]}
SEEDS = range(5)
LATENT = 32
AGREEMENT = 1e-8
PAIR_KINDS = [("gmn", "gmn"), ("mlp", "mlp"), ("cnn", "cnn"), ("gmn", "mlp"), ("gmn", "cnn"), ("mlp", "cnn")]


def model_pairs() -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """The grid's 30 model pairs, as ((arch, seed), (arch, seed)), in PAIR_KINDS order."""
    pairs = []
    for arch_a, arch_b in PAIR_KINDS:
        for s in SEEDS:
            other_seed = (s + 1) % len(SEEDS) if arch_a == arch_b else s
            pairs.append(((arch_a, s), (arch_b, other_seed)))
    return pairs


def features(n: int) -> dict[tuple[str, int], list[np.ndarray]]:
    latent = np.random.default_rng(0).standard_normal((n, LATENT))
    models = {}
    for code, (arch, widths) in enumerate(WIDTHS.items()):
        for s in SEEDS:
            rng = np.random.default_rng([code, s])
            models[arch, s] = [
                np.maximum(
                    latent @ rng.standard_normal((LATENT, width)) / np.sqrt(LATENT)
                    + 0.5 * rng.standard_normal((n, width)),
                    0,
                ).astype(np.float32)
                for width in widths
            ]
    return models


def scratch_grid(models, pairs, estimator: str, batch_size: int) -> dict:
    def one(X, Y):
        return cka.linear_cka(X, Y) if estimator == "linear" else cka.minibatch_cka(X, Y, batch_size)

    return {(a, b): np.array([[one(X, Y) for Y in models[b]] for X in models[a]]) for a, b in pairs}


def prepared_grid(models, pairs, estimator: str, batch_size: int, phases: defaultdict) -> dict:
    """The grid from prepared operands; adds the seconds of each phase (preparing an architecture's
    models, the pairs of one kind) to `phases`."""
    operands, grid = {}, {}
    for model, layers in models.items():
        start = time.perf_counter()
        operands[model] = [cka.prepare(X, estimator, batch_size if estimator == "minibatch" else None) for X in layers]
        phases[f"prepare {model[0]}"] += time.perf_counter() - start
    for a, b in pairs:
        start = time.perf_counter()
        grid[a, b] = cka.cka_matrix(operands[a], operands[b])
        phases[f"pairs {a[0]}-{b[0]}"] += time.perf_counter() - start
    return grid


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def operand_megabytes(n: int, width: int, estimator: str, batch_size: int) -> float:
    if estimator == "linear":
        return 8 * n * min(width, n) / 1e6
    return 8 * (n // batch_size) * batch_size**2 / 1e6


def run_size(n: int, args, threads: list[int]) -> None:
    pairs = model_pairs()
    subset = n > args.subset_above
    scratch_pairs = [pair for pair in pairs if pair[0][1] == 0] if subset else pairs
    scale = len(pairs) / len(scratch_pairs)
    batching = f", batch size {args.batch_size}" if args.estimator == "minibatch" else ""
    print(
        f"\n##### N = {n} probe samples; estimator {args.estimator}{batching}; 15 models x 5 layers; "
        f"{len(pairs)} model pairs x 25 layer pairs #####"
    )
    start = time.perf_counter()
    models = features(n)
    print(
        f"features generated in {time.perf_counter() - start:.1f} s (float32, "
        f"{sum(X.nbytes for layers in models.values() for X in layers) / 1e9:.2f} GB)"
    )
    sizes = {
        arch: [round(operand_megabytes(n, w, args.estimator, args.batch_size), 1) for w in widths]
        for arch, widths in WIDTHS.items()
    }
    print(
        f"operand memory per layer (MB, float64): {sizes}; all 75: "
        f"{5 * sum(sum(v) for v in sizes.values()) / 1e3:.2f} GB"
    )
    if subset:
        print(
            f"(a) from scratch: SUBSET of {len(scratch_pairs)} model pairs (the seed-0 pair of each kind: "
            f"{', '.join(f'{a[0]}{a[1]}-{b[0]}{b[1]}' for a, b in scratch_pairs)}), time x {scale:g} "
            f"= extrapolated to all {len(pairs)} pairs (pairs of a kind have identical shapes)"
        )

    phases = {t: defaultdict(float) for t in threads}  # (b)'s seconds by phase, summed over the repeats
    sides = {
        "(a) from scratch": lambda t: scratch_grid(models, scratch_pairs, args.estimator, args.batch_size),
        "(b) prepared": lambda t: prepared_grid(models, pairs, args.estimator, args.batch_size, phases[t]),
    }
    seconds = {(name, t): [] for name in sides for t in threads}
    grids = {}
    print(f"\n{'side':<18} {'threads':>7} {'repeat':>6} {'seconds':>9}  (a: x{scale:g} extrapolated)")
    for t in threads:
        with threadpool_limits(t):
            for repeat in range(args.repeats):  # round robin: load from elsewhere hits both sides alike
                for name, side in sides.items():
                    elapsed, grids[name] = timed(side, t)
                    elapsed *= scale if name.startswith("(a)") else 1
                    seconds[name, t].append(elapsed)
                    print(f"{name:<18} {t:>7} {repeat:>6} {elapsed:>9.2f}", flush=True)

    diff = max(np.abs(grids["(a) from scratch"][pair] - grids["(b) prepared"][pair]).max() for pair in scratch_pairs)
    values = np.concatenate([grid.ravel() for grid in grids["(b) prepared"].values()])
    print(
        f"\ncheck: max |(a) - (b)| over {len(scratch_pairs) * 25} CKA values = {diff:.1e}; "
        f"(b)'s 750 values span [{values.min():.3f}, {values.max():.3f}], mean {values.mean():.3f}"
    )
    if not diff < AGREEMENT:
        print(f"!!!!! WARNING: the two sides disagree by {diff:.1e} (>= {AGREEMENT}) !!!!!")

    print(f"\n=== N = {n}: median of {args.repeats}, best thread setting of each ===")
    best, best_threads = {}, {}
    for name in sides:
        median, t = min((statistics.median(seconds[name, t]), t) for t in threads)
        best[name], best_threads[name] = median, t
        extrapolated = subset and name.startswith("(a)")
        note = f" (extrapolated from {len(scratch_pairs)} of {len(pairs)} pairs)" if extrapolated else ""
        print(f"{name:<18} {median:>9.2f} s  ({t} thread{'s' * (t > 1)}){note}")
    print(f"ratio (a) / (b): {best['(a) from scratch'] / best['(b) prepared']:.1f}x   (goal of the issue: >= 10x)")
    t = best_threads["(b) prepared"]
    print(
        f"(b) by phase, mean of the {args.repeats} runs with {t} thread{'s' * (t > 1)}: "
        + ", ".join(f"{phase} {seconds_ / args.repeats:.2f} s" for phase, seconds_ in phases[t].items())
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    print(f"peak resident memory of this process so far: {peak:.1f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2000,10000", help="comma-separated probe sample counts N")
    parser.add_argument("--estimator", choices=cka.ESTIMATORS, default="linear")
    parser.add_argument("--batch-size", type=int, default=1000, help="minibatch estimator: samples per minibatch")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per side and thread count; the median counts"
    )
    parser.add_argument("--threads", default="1,2", help="comma-separated BLAS thread counts to try")
    parser.add_argument(
        "--subset-above",
        type=int,
        default=5000,
        help="for N above this, time (a) on one model pair per kind and extrapolate",
    )
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]

    print(
        f"numpy {np.__version__}; os.cpu_count {os.cpu_count()}; CPU: {cpu_model()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; float64"
    )
    for n in (int(size) for size in args.sizes.split(",")):
        run_size(n, args, threads)


if __name__ == "__main__":
    main()
