"""Benchmark: INRs per second of the project's batched SIREN fitter against a plain
one-INR-at-a-time PyTorch loop, in one run, on the same images.

What is measured
----------------
(a) batched: ``gmnrep.inr.fitting.fit_inrs`` (stacked weights, hand-written backward, one Adam
    over the stack, converged INRs dropped from the stack), on the first ``--n-batched`` images,
    as the pipeline runs it (on a CPU each step ``fitting.step_chunk`` INRs at a time, so that
    the step's temporaries stay in cache), and, as "batched, whole stack", with each step over the
    whole stack at once (what the fitter did before; ``chunk=batch_size``).
(b) loop: for each of the first ``--n-loop`` images (a prefix of the batched images), a
    ``torch.nn.Module`` SIREN built from ``nn.Linear`` layers, loaded with the SAME initial
    weights as the batched fitter gives that image (``gmnrep.inr.siren.init_params(recipe, C, seed,
    [index])``), ``torch.optim.Adam(lr=recipe.lr)``, MSE loss on ``gmnrep.inr.siren.image_targets`` at
    ``gmnrep.inr.siren.coordinate_grid``, and the project's early-stop rule: stop at the first step
    whose PSNR >= recipe.target_psnr (evaluated before that step's update), else after
    ``max_steps`` updates. Autograd does the backward pass.

The loop fits fewer images than the batched fitter because it is slow; what is compared is the
rate per INR (INRs/s), so the two image counts need not match. The mean number of steps can
differ between the loop's prefix and the full batched set (on digits, where INRs stop early), so
the rate per INR-step is printed as well.

The loop is given its best plain configuration: it is timed with torch.set_num_threads(1) and
(2), each with the default torch.optim.Adam (per-tensor for-loop on CPU) and with
torch.optim.Adam(fused=True); the fastest of these is reported (and named). The batched fitter is
timed with 1 and 2 threads and its best is reported. Every timed configuration is repeated
``--repeats`` times and the fastest repetition counts (the machine is shared and noisy).
Before any timing, each configuration runs once on 2 images for 3 steps (warm-up), so one-time
costs (thread pool start, first allocations, lazy initialisation) are excluded.

How close to the machine: the benchmark measures the matmul peak itself, in the same run (float32,
best thread setting): a large square matmul (2048 x 2048 x 2048) and the fitter's largest product
(a step_chunk stack of (32 x 33) x (33 x pixels)); it prints the fitter's matmul work per INR-step
(fitter_flop: forward, weight gradients and the two back-propagated products, from the layer
sizes) divided by its time per INR-step, as GFLOP/s and as a fraction of each peak. It also times
the step's sines and cosines alone (one of each per hidden unit and pixel, the fitter's chunk
shape): no arrangement of the matrix products can make a step shorter than that, so it bounds the
share of the peak the fitter can reach ("ceiling").

Correctness check: on the loop's images, the batched fitter's PSNRs and the loop's PSNRs must
agree within 0.05 dB on average (the max abs difference is printed); otherwise a WARNING is
printed.

Image sets (``--images``): ``digits`` (scikit-learn's 8x8 digits, read with
gmnrep.data.formats.read_digits), ``fashion_mnist`` (28x28, from
/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz via gmnrep.data.formats.read_idx), or
``both`` (default). Recipe: the DWSNets one (SIREN 2->32->32->1, w0 30, "dwsnets" init, output
offset 0.5, targets in [0,1], Adam lr 5e-4, target PSNR 40 dB); ``--steps`` overrides max_steps
(default 1000 for digits, 200 for Fashion-MNIST, where no INR reaches 40 dB and one-at-a-time
fitting of 1000 steps is very slow).

Run (from the repository root)::

    .venv/bin/python bench/inr_fitting.py
    .venv/bin/python bench/inr_fitting.py --images digits --n-batched 1797 --n-loop 32
    .venv/bin/python bench/inr_fitting.py --images fashion_mnist --steps 1000 --n-loop 2
"""

import pinned_numerics  # noqa: F401 (first: CPU numerics pinned before torch loads, as in every job)

# isort: split
import argparse
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from config_recipes import config_recipe
from gmnrep.data.formats import digits_source_file, read_digits, read_idx
from gmnrep.inr.fitting import fit_inrs, step_chunk
from gmnrep.inr.siren import SirenRecipe, coordinate_grid, image_targets, init_params
from gmnrep.provenance.records import cpu_model

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
SEED = 0
THREADS = (1, 2)
PSNR_TOLERANCE_DB = 0.05

# The DWSNets recipe (config.yaml: inr.recipes.dwsnets); max_steps is set per image set.
DWSNETS = config_recipe("dwsnets")

DEFAULTS = {  # image set -> (steps, n_batched, n_loop)
    "digits": (1000, 512, 16),
    "fashion_mnist": (200, 256, 4),
}


def fitter_flop(pixels: int, sizes=(2, 32, 32, 1)) -> float:
    """Matmul FLOP of one INR-step: per layer forward and weight gradient (2 P in out each), and the
    product that carries the gradient back to every layer but the first (2 P in out)."""
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * pixels * (2 * sum(products) + sum(products[1:]))


def matmul_peaks(repeats: int, pixels: int) -> dict[str, float]:
    """GFLOP/s of float32 matmuls at the best thread setting: a large square one, and the fitter's
    largest product (a step_chunk stack of (32 x 33) x (33 x pixels))."""
    chunk = step_chunk("cpu", pixels)
    shapes = {
        "square 2048^3": ((2048, 2048), (2048, 2048)),
        f"fitter bmm {chunk}x(32x33)(33x{pixels})": ((chunk, 32, 33), (chunk, 33, pixels)),
    }
    peaks = {}
    for name, (a_shape, b_shape) in shapes.items():
        a, b = torch.randn(a_shape), torch.randn(b_shape)
        flop = 2 * math.prod(a_shape) * b_shape[-1]
        peaks[name] = flop / best_seconds(lambda a=a, b=b: torch.matmul(a, b), repeats) / 1e9
    return peaks


def sine_floor_us(repeats: int, pixels: int, sizes=(2, 32, 32, 1)) -> float:
    """Microseconds per INR-step of the step's sines and cosines alone (one of each per hidden unit
    and pixel, torch.sin / torch.cos into reused buffers, step_chunk INRs at a time, best thread
    setting): a floor that no arrangement of the matrix products can go under."""
    chunk, units = step_chunk("cpu", pixels), sum(sizes[1:-1])
    z, out = torch.randn(chunk, units, pixels) * 30, torch.empty(chunk, units, pixels)
    seconds = best_seconds(lambda: (torch.sin(z, out=out), torch.cos(z, out=out)), repeats)
    return seconds / chunk * 1e6


def best_seconds(fn, repeats: int, calls: int = 20) -> float:
    """Fastest time of one fn() call over both thread settings, after a warm-up call."""
    best = math.inf
    for threads in THREADS:
        torch.set_num_threads(threads)
        fn()
        best = min(best, timed(lambda: [fn() for _ in range(calls)], repeats)[0] / calls)
    return best


def load_images(name: str, fashion_mnist: Path) -> np.ndarray:
    if name == "digits":
        images, _ = read_digits(digits_source_file())
        return images
    return read_idx(fashion_mnist)


class Siren(nn.Module):
    """Plain SIREN: sin(w0 * Linear(x)) hidden layers, a linear last layer, plus the output offset."""

    def __init__(self, recipe: SirenRecipe, out_features: int):
        super().__init__()
        sizes = recipe.layer_sizes(out_features)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.w0 = recipe.w0
        self.offset = recipe.output_offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.sin(self.w0 * layer(x))
        return self.layers[-1](x) + self.offset


def fit_one(
    image: np.ndarray, index: int, recipe: SirenRecipe, seed: int, coords: torch.Tensor, fused: bool, device: str
):
    """Fit one SIREN to one image with nn.Module + torch.optim.Adam; returns (psnr, steps)."""
    target = image_targets(image[None], recipe)[0].to(device)  # (P, C)
    model = Siren(recipe, target.shape[-1]).to(device)
    initial = init_params(recipe, target.shape[-1], seed, [index])
    with torch.no_grad():
        for layer, (w, b) in zip(model.layers, initial):
            layer.weight.copy_(w[0])
            layer.bias.copy_(b[0])
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, fused=fused or None)
    peak = recipe.data_range**2
    for step in range(recipe.max_steps + 1):
        loss = F.mse_loss(model(coords), target)
        # Same float32 arithmetic as the project: 10 log10(range^2 / mse) >= target.
        psnr = (10 * torch.log10(peak / loss.detach())).item()
        if psnr >= recipe.target_psnr or step == recipe.max_steps:
            return psnr, step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    raise AssertionError("unreachable")


def run_loop(images: np.ndarray, recipe: SirenRecipe, fused: bool, device: str = "cpu"):
    coords = coordinate_grid(*images.shape[1:3], order=recipe.coordinates).to(device)
    results = [fit_one(images[i], i, recipe, SEED, coords, fused, device) for i in range(len(images))]
    return np.array([r[0] for r in results]), np.array([r[1] for r in results])


def run_batched(images: np.ndarray, recipe: SirenRecipe, batch_size: int, device: str = "cpu", chunk=None):
    result = fit_inrs(images, np.arange(len(images)), recipe, SEED, batch_size, device, chunk=chunk)
    return result.psnr, result.steps


def timed(fn, repeats: int):
    """Run fn() `repeats` times; return the fastest wall time and the last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_set(name: str, args) -> dict:
    steps_default, n_batched_default, n_loop_default = DEFAULTS[name]
    steps = args.steps if args.steps is not None else steps_default
    n_batched = args.n_batched if args.n_batched is not None else n_batched_default
    n_loop = args.n_loop if args.n_loop is not None else n_loop_default
    all_images = load_images(name, args.fashion_mnist)
    n_batched = min(n_batched, len(all_images))
    n_loop = min(n_loop, n_batched)
    images = np.ascontiguousarray(all_images[:n_batched])
    loop_images = images[:n_loop]  # a prefix of the batched images (same indices, same inits)
    recipe = replace(DWSNETS, max_steps=steps)
    warm_recipe = replace(recipe, max_steps=3)
    size = "x".join(str(s) for s in images.shape[1:])

    print(
        f"\n=== {name}: {size} images, steps cap {steps}, batched on {n_batched}, loop on {n_loop} "
        f"(first {n_loop} of the batched images), batch_size {args.batch_size}, best of {args.repeats} ==="
    )

    runs = {}
    for threads in THREADS:
        torch.set_num_threads(threads)
        run_batched(images[:2], warm_recipe, args.batch_size, args.device)  # warm-up, untimed
        seconds, (psnr, steps_taken) = timed(
            lambda: run_batched(images, recipe, args.batch_size, args.device), args.repeats
        )
        runs[("batched", threads)] = (seconds, psnr, steps_taken, n_batched)
        seconds, (psnr, steps_taken) = timed(
            lambda: run_batched(images, recipe, args.batch_size, args.device, chunk=args.batch_size), args.repeats
        )
        runs[("batched-whole", threads)] = (seconds, psnr, steps_taken, n_batched)
        for fused in (False, True):
            run_loop(loop_images[:2], warm_recipe, fused, args.device)  # warm-up, untimed
            seconds, (psnr, steps_taken) = timed(
                lambda fused=fused: run_loop(loop_images, recipe, fused, args.device), args.repeats
            )
            runs[("loop-fused" if fused else "loop", threads)] = (seconds, psnr, steps_taken, n_loop)

    print(
        f"{'method':<26} {'threads':>7} {'INRs':>5} {'seconds':>8} {'INRs/s':>8} {'us/INR-step':>11} "
        f"{'mean PSNR':>9} {'mean steps':>10}"
    )
    for (method, threads), (seconds, psnr, steps_taken, n) in runs.items():
        label = {"batched": "batched fit_inrs", "batched-whole": "batched, whole stack", "loop": "loop, Adam (default)",
                 "loop-fused": "loop, Adam(fused=True)"}[method]  # fmt: skip
        inr_steps = max(int(steps_taken.sum()), 1)
        print(
            f"{label:<26} {threads:>7} {n:>5} {seconds:>8.2f} {n / seconds:>8.2f} {seconds / inr_steps * 1e6:>11.1f} "
            f"{psnr.mean():>9.2f} {steps_taken.mean():>10.1f}"
        )

    def best(methods):
        key = min((k for k in runs if k[0] in methods), key=lambda k: runs[k][0] / runs[k][3])
        return key, runs[key]

    (b_method, b_threads), (b_sec, b_psnr, b_steps, _) = best({"batched"})
    (w_method, w_threads), (w_sec, _, w_steps, _) = best({"batched-whole"})
    (l_method, l_threads), (l_sec, l_psnr, l_steps, _) = best({"loop", "loop-fused"})
    b_rate, l_rate = n_batched / b_sec, n_loop / l_sec
    b_step_rate, l_step_rate = b_steps.sum() / b_sec, l_steps.sum() / l_sec
    pixels = math.prod(images.shape[1:3])
    gflops = {
        "batched": fitter_flop(pixels) * b_step_rate / 1e9,
        "whole stack": fitter_flop(pixels) * w_steps.sum() / w_sec / 1e9,
    }
    peaks = matmul_peaks(args.repeats, pixels)
    floor = sine_floor_us(args.repeats, pixels)
    print("matmul peaks measured now: " + ", ".join(f"{n} {p:.1f} GFLOP/s" for n, p in peaks.items()))
    print(f"matmul work {fitter_flop(pixels) / 1e6:.2f} MFLOP per INR-step; achieved: "
          + "; ".join(f"{k} {v:.1f} GFLOP/s = " + ", ".join(f"{v / p:.0%} of {n}" for n, p in peaks.items())
                      for k, v in gflops.items()))  # fmt: skip
    square, fitter_peak = peaks.values()
    ceiling = fitter_flop(pixels) / floor / 1e3 / square
    bound = fitter_flop(pixels) / (floor * 1e3 + fitter_flop(pixels) / fitter_peak) / square
    print(
        f"sines and cosines alone: {floor:.1f} us per INR-step (the fitter: {b_sec / b_steps.sum() * 1e6:.1f}); "
        f"with matrix products for free the fitter could reach at most {ceiling:.0%} of the square peak, "
        f"with them at the fitter-shape peak {bound:.0%}"
    )
    print(
        f"best batched: {b_rate:.2f} INRs/s ({b_threads} thread{'s' * (b_threads > 1)}); "
        f"best loop: {l_rate:.2f} INRs/s ({l_threads} thread{'s' * (l_threads > 1)}, "
        f"{'Adam(fused=True)' if l_method == 'loop-fused' else 'default Adam'})"
    )
    print(
        f"ratio batched / one-at-a-time: {b_rate / l_rate:.2f}x per INR, {b_step_rate / l_step_rate:.2f}x per INR-step"
    )

    # Correctness: the loop's images are the first n_loop of the batched ones.
    ok = True
    for method in ("loop", "loop-fused"):
        _, psnr, steps_taken, _ = runs[(method, l_threads)]
        diff = np.abs(b_psnr[:n_loop] - psnr)
        same_steps = int((b_steps[:n_loop] == steps_taken).sum())
        print(
            f"check {method:<10}: PSNR |batched - loop| mean {diff.mean():.2e} dB, max {diff.max():.2e} dB; "
            f"same stop step for {same_steps}/{n_loop}"
        )
        if not diff.mean() <= PSNR_TOLERANCE_DB:
            ok = False
            print(
                f"!!!!! WARNING: {name}: batched and one-at-a-time ({method}) PSNRs differ by {diff.mean():.3f} dB "
                f"on average (> {PSNR_TOLERANCE_DB} dB): the two fitters do not compute the same thing !!!!!"
            )
    return {
        "images": name,
        "size": size,
        "steps": steps,
        "n_batched": n_batched,
        "n_loop": n_loop,
        "b_rate": b_rate,
        "b_threads": b_threads,
        "l_rate": l_rate,
        "l_threads": l_threads,
        "l_fused": l_method == "loop-fused",
        "ratio": b_rate / l_rate,
        "step_ratio": b_step_rate / l_step_rate,
        "b_psnr": float(b_psnr.mean()),
        "l_psnr": float(l_psnr.mean()),
        "ok": ok,
        "gflops": gflops["batched"],
        "whole_gflops": gflops["whole stack"],
        "square_share": gflops["batched"] / peaks["square 2048^3"],
        "step_us": b_sec / b_steps.sum() * 1e6,
        "floor_us": floor,
        "ceiling": ceiling,
        "bound": bound,
        "chunk_ratio": w_sec / b_sec,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", choices=["digits", "fashion_mnist", "both"], default="both")
    parser.add_argument("--steps", type=int, default=None, help="max_steps (default 1000 digits, 200 fashion_mnist)")
    parser.add_argument(
        "--n-batched",
        type=int,
        default=None,
        help="images for the batched fitter (default 512 digits, 256 fashion_mnist)",
    )
    parser.add_argument(
        "--n-loop",
        type=int,
        default=None,
        help="images for the loop, a prefix of those (default 16 digits, 4 fashion_mnist)",
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--repeats", type=int, default=1, help="time each configuration this many times, keep the fastest"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where both fitters run")
    parser.add_argument("--fashion-mnist", type=Path, default=FASHION_MNIST, help="train-images-idx3-ubyte.gz to read")
    args = parser.parse_args()

    if args.device.startswith("cuda"):
        print(f"device: {torch.cuda.get_device_name(args.device)}")
    print(
        f"torch {torch.__version__}; default threads {torch.get_num_threads()} (timed with {THREADS}); "
        f"os.cpu_count {os.cpu_count()}; CPU: {cpu_model()}"
    )
    print(
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset)')}; float32; seed {SEED}; "
        "warm-up (2 images, 3 steps) before each timed configuration is excluded from the timings"
    )
    print("INRs/s compares per-INR rates: the loop fits fewer images (a prefix of the batched ones).")

    names = ["digits", "fashion_mnist"] if args.images == "both" else [args.images]
    rows = [bench_set(name, args) for name in names]

    print("\n=== summary (best thread setting of each; rates per INR) ===")
    header = (
        f"{'images':<14} {'size':>6} {'steps cap':>9} {'batched INRs/s (thr)':>21} {'loop INRs/s (thr)':>22} "
        f"{'ratio':>7} {'per-step':>8} {'PSNR batched / loop':>20}"
    )
    print(header)
    for r in rows:
        loop = f"{r['l_rate']:.2f} ({r['l_threads']}{', fused' if r['l_fused'] else ''})"
        print(
            f"{r['images']:<14} {r['size']:>6} {r['steps']:>9} {r['b_rate']:>15.2f} ({r['b_threads']}) {loop:>22} "
            f"{r['ratio']:>6.1f}x {r['step_ratio']:>7.1f}x {r['b_psnr']:>9.2f} / {r['l_psnr']:<8.2f}"
            f"{'' if r['ok'] else '  WARNING: PSNR mismatch'}"
        )
    print(
        f"\n{'images':<14} {'fitter GFLOP/s':>14} {'of square peak':>14} {'us/INR-step':>11} {'sin+cos us':>10} "
        f"{'ceiling':>8} {'bound':>6} {'whole-stack GFLOP/s':>19} {'chunked / whole':>15}"
    )
    for r in rows:
        print(
            f"{r['images']:<14} {r['gflops']:>14.1f} {r['square_share']:>14.0%} {r['step_us']:>11.1f} "
            f"{r['floor_us']:>10.1f} {r['ceiling']:>8.0%} {r['bound']:>6.0%} {r['whole_gflops']:>19.1f} "
            f"{r['chunk_ratio']:>14.2f}x"
        )
    print(
        "(ceiling: the share of the square peak the fitter would reach if its matrix products took no time; "
        "bound: if they ran at the fitter-shape peak, and nothing but the sines and cosines took time besides)"
    )


if __name__ == "__main__":
    main()
