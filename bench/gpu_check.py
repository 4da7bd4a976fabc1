"""GPU check: is the CUDA path correct, how fast is it, and what does the paper's DAG cost on it?

Runs where only torch, numpy, h5py, pyyaml, tqdm and scikit-learn are installed (no DGL, Snakemake
or jsonschema: the dense GMN, the fitter, the image networks and CKA import without them) and
prints one table. `make gpu-check` runs it on the default device (CUDA when available);
`--device cpu --quick` runs every part on tiny sizes (the test suite does, so the script cannot
rot on machines without a GPU).

Correctness, the device against the CPU, float32:
- the fitter (gmnrep.inr.fitting.fit_inrs, DWSNets recipe) on 64 real images at 28x28 (Debian's
  Fashion-MNIST when installed, else scikit-learn's digits upscaled 3x and padded to 28x28): the
  same stop step for every INR, PSNR within 1e-3 dB;
- a paper-width GMN (width 128, 4 blocks, dense form) forward and backward on 128 INR weight stacks
  (--quick: width 16, 8 stacks):
  logits and every parameter gradient within float32 tolerance (relative to the largest entry);
- an activation dump (gmnrep.representations.extract.compute) of that GMN: every layer within tolerance.

Reproducibility on the device, in the mode every pipeline job runs in on CUDA (deterministic
algorithms, gmnrep.core.device): a paper-width GMN (dropout, weight augmentation) and a CNN
(dropout), each trained twice from the same seed for 2 epochs: the same weights, bit for bit?

Throughput (warm-up excluded, the device synchronised around every timing):
- 28x28 INRs per second at 1000 steps on --images (default 10240) images, every INR running all
  its steps (as Fashion-MNIST's, which never reach 40 dB), stacks of --fit-batch (default 5000,
  config's inr.fit_batch_size.cuda); the implied minutes for 70k;
- GMN graphs per second at the paper width (128, 4 blocks, batch 128, forward + backward +
  AdamW) and the implied seconds per epoch of 55k graphs; the same for the CNN and the MLP on
  images (batch 128) per epoch of 55k images;
- linear CKA of one paper-size pair: N = 10000 probe samples, a CNN layer of 6272 features on
  both sides (prepare both, then the pair), on the host as in the pipeline.

Extrapolation to the whole paper DAG (3 datasets, 5 seeds, config.yaml's epochs and pairs): INR
fitting of 200k INRs (70k + 70k + 60k, CIFAR-10 counted as 28x28: a lower bound), 15 GMN trainings
of 200 epochs and 30 image-network trainings of 50 epochs at the measured epoch times, and
315 CKA pairs x 25 layer pairs at the measured time of the largest layer pair (an upper bound).
Activation dumps are a few forward passes and are left out.

Run (from the repository root)::

    make gpu-check                                  # = python3 bench/gpu_check.py
    python3 bench/gpu_check.py --device cpu --quick
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # config_recipes, however the script is started
import pinned_numerics  # noqa: E402, F401 (CPU numerics pinned before torch loads, as in every job: the CPU side)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from config_recipes import config_recipe  # noqa: E402
from gmnrep.core.device import deterministic_cuda  # noqa: E402
from gmnrep.data.formats import digits_source_file, read_digits, read_idx  # noqa: E402
from gmnrep.inr.fitting import fit_inrs  # noqa: E402
from gmnrep.inr.siren import init_params  # noqa: E402
from gmnrep.models import training  # noqa: E402
from gmnrep.models.gmn import GMN  # noqa: E402
from gmnrep.models.image_models import CNN, MLP  # noqa: E402
from gmnrep.models.samples import Samples  # noqa: E402
from gmnrep.representations import cka, extract

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
DWSNETS = config_recipe("dwsnets", max_steps=1000)
LAYER_SIZES = (2, 32, 32, 1)
PSNR_TOLERANCE_DB = 1e-3
FLOAT32_TOLERANCE = 1e-4  # relative to the largest entry of the compared tensor
# The paper DAG (config.yaml at paper scale)
INRS = 70_000 + 70_000 + 60_000
TRAIN_SIZE = 55_000
GMN_TRAININGS, GMN_EPOCHS = 3 * 5, 200
IMAGE_TRAININGS, IMAGE_EPOCHS = 3 * 2 * 5, 50
CKA_PAIRS, LAYER_PAIRS = 315, 25


@dataclasses.dataclass
class Sizes:
    check_images: int
    check_steps: int
    images: int
    steps: int
    fit_batch: int
    train_steps: int
    probe: int
    cka_features: int
    batch: int  # graphs or images per training step, and per correctness check
    gmn_width: int  # the GMN's hidden and head width (the paper's: 128)


FULL = Sizes(check_images=64, check_steps=1000, images=10240, steps=1000, fit_batch=5000, train_steps=20,
             probe=10_000, cka_features=6272, batch=128, gmn_width=128)  # fmt: skip
QUICK = Sizes(check_images=4, check_steps=20, images=16, steps=10, fit_batch=8, train_steps=2, probe=300,
              cka_features=200, batch=8, gmn_width=16)  # fmt: skip


def real_images(n: int) -> tuple[np.ndarray, str]:
    """n 28x28 uint8 images: Fashion-MNIST if installed, else digits upscaled (both real images)."""
    if FASHION_MNIST.is_file():
        return read_idx(FASHION_MNIST)[:n].copy(), "Fashion-MNIST"
    digits, _ = read_digits(digits_source_file())  # 8x8 uint8, 0..255
    upscaled = np.kron(digits[:n], np.ones((3, 3), dtype=np.uint8))  # 24x24
    return np.pad(upscaled, ((0, 0), (2, 2), (2, 2))), "digits upscaled to 28x28"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(action, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    action()
    synchronize(device)
    return time.perf_counter() - start


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def weight_stacks(batch: int, device: torch.device):
    """INR weights shaped as the pipeline's (SIREN init, spread as fitting spreads them)."""
    g = torch.Generator().manual_seed(0)
    recipe = dataclasses.replace(DWSNETS, init="siren")
    return [((w * (1 + torch.rand(w.shape, generator=g))).to(device), b.to(device))
            for w, b in init_params(recipe, 1, 0, range(batch))]  # fmt: skip


def paper_gmn(device: torch.device, width: int) -> GMN:
    torch.manual_seed(0)
    return GMN(LAYER_SIZES, 10, hidden=width, blocks=4, head_hidden=width).to(device)


# --- correctness ------------------------------------------------------------------------------


def check_fitter(device, sizes, rows):
    images, source = real_images(sizes.check_images)
    recipe = dataclasses.replace(DWSNETS, max_steps=sizes.check_steps)
    index = np.arange(len(images))
    on_device = fit_inrs(images, index, recipe, seed=0, batch_size=len(images), device=device)
    on_cpu = fit_inrs(images, index, recipe, seed=0, batch_size=len(images), device="cpu")
    same_steps = bool((on_device.steps == on_cpu.steps).all())
    gap = float(np.abs(on_device.psnr - on_cpu.psnr).max())
    rows.append((f"fitter, {len(images)} {source}, {recipe.max_steps} steps: same stop steps", str(same_steps),
                 "True", same_steps))  # fmt: skip
    rows.append(
        ("fitter: max |PSNR device - CPU| (dB)", f"{gap:.2e}", f"<= {PSNR_TOLERANCE_DB:g}", gap <= PSNR_TOLERANCE_DB)
    )


def check_gmn(device, sizes, rows):
    weights = weight_stacks(sizes.batch, torch.device("cpu"))
    labels = torch.arange(sizes.batch) % 10
    results = {}
    for where in (torch.device("cpu"), device):
        model = paper_gmn(where, sizes.gmn_width)
        model.set_input_statistics(weights)
        logits = model([(w.to(where), b.to(where)) for w, b in weights])
        F.cross_entropy(logits, labels.to(where)).backward()
        results[where.type] = (logits, [p.grad for p in model.parameters()])
    (logits_cpu, grads_cpu), (logits_dev, grads_dev) = results["cpu"], results[device.type]
    logit_error = relative_error(logits_dev, logits_cpu)
    grad_error = max(relative_error(a, b) for a, b in zip(grads_dev, grads_cpu))
    gmn = f"GMN width {sizes.gmn_width}"
    rows.append((f"{gmn}: logits, device vs CPU (rel.)", f"{logit_error:.1e}", f"<= {FLOAT32_TOLERANCE:g}",
                 logit_error <= FLOAT32_TOLERANCE))  # fmt: skip
    rows.append((f"{gmn}: gradients, device vs CPU (rel.)", f"{grad_error:.1e}", f"<= {FLOAT32_TOLERANCE:g}",
                 grad_error <= FLOAT32_TOLERANCE))  # fmt: skip


def check_dump(device, sizes, rows):
    n = sizes.batch
    weights = weight_stacks(n, torch.device("cpu"))
    samples = Samples(weights, torch.zeros(n, dtype=torch.int64), np.zeros(n), np.arange(n))
    layers = {}
    for where in (torch.device("cpu"), device):
        model = paper_gmn(where, sizes.gmn_width)
        model.set_input_statistics(weights)
        layers[where.type], _ = extract.compute(model, samples.to(where), np.arange(n), n // 4, f"dump on {where.type}")
    error = max(
        relative_error(torch.from_numpy(a), torch.from_numpy(b)) for a, b in zip(layers[device.type], layers["cpu"])
    )
    rows.append(("activation dump: every layer, device vs CPU (rel.)", f"{error:.1e}", f"<= {FLOAT32_TOLERANCE:g}",
                 error <= FLOAT32_TOLERANCE))  # fmt: skip


def check_repeatable(device, sizes, rows):
    n = 2 * sizes.batch
    labels = torch.arange(n) % 10
    split = np.repeat(np.array([0, 1, 2], np.uint8), [sizes.batch, n // 4, n - sizes.batch - n // 4])
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    settings = training.TrainingSettings(
        epochs=2, batch_size=max(2, sizes.batch // 4), lr=1e-3, weight_decay=0.01, augmentation={"noise": 0.05}
    )
    gmn = {"hidden": sizes.gmn_width, "blocks": 4, "head_hidden": sizes.gmn_width, "dropout": 0.1}
    for arch, inputs, network in (
        ("gmn", weight_stacks(n, torch.device("cpu")), gmn),
        ("cnn", images, {"dropout": 0.1}),
    ):
        samples = Samples(inputs, labels, split, np.arange(n))
        kwargs = training.model_kwargs(arch, network, "mnist", samples)
        twice = [training.train(arch, kwargs, samples, settings, 0, device, f"{arch}, trained twice") for _ in range(2)]
        same = all(torch.equal(twice[0].state_dict[k], twice[1].state_dict[k]) for k in twice[0].state_dict)
        rows.append((f"{arch.upper()} trained twice from one seed: same weights", str(same), "True", same))


# --- throughput -------------------------------------------------------------------------------


def inr_rate(device, sizes) -> float:
    images, _ = real_images(sizes.images)
    if len(images) < sizes.images:  # digits has 1797: tile them (only the shapes matter for speed)
        images = np.resize(images, (sizes.images, 28, 28))
    recipe = dataclasses.replace(DWSNETS, max_steps=sizes.steps, target_psnr=float("inf"))
    fit_inrs(images[:8], np.arange(8), dataclasses.replace(recipe, max_steps=2), 0, 8, device)  # warm-up
    seconds = timed(lambda: fit_inrs(images, np.arange(len(images)), recipe, 0, sizes.fit_batch, device), device)
    return len(images) / seconds * (sizes.steps / 1000)  # INRs per second at 1000 steps


def training_rate(model, inputs, labels, device, steps: int) -> float:
    """Samples per second of forward + backward + AdamW."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    seconds = timed(lambda: [step() for _ in range(steps)], device)
    return steps * len(labels) / seconds


def throughputs(device, sizes) -> dict[str, float]:
    labels = (torch.arange(sizes.batch) % 10).to(device)
    gmn = paper_gmn(device, sizes.gmn_width)
    rates = {
        "inr": inr_rate(device, sizes),
        "gmn": training_rate(gmn, weight_stacks(sizes.batch, device), labels, device, sizes.train_steps),
    }
    images = torch.randint(0, 256, (sizes.batch, 28, 28), dtype=torch.uint8, device=device)
    torch.manual_seed(0)
    rates["cnn"] = training_rate(CNN((28, 28), 10).to(device), images, labels, device, sizes.train_steps)
    rates["mlp"] = training_rate(MLP((28, 28), 10).to(device), images, labels, device, sizes.train_steps)
    rng = np.random.default_rng(0)
    shared = rng.standard_normal((sizes.probe, 32))
    features = (sizes.probe, sizes.cka_features)
    layers = [
        np.maximum(
            shared @ rng.standard_normal((32, sizes.cka_features)) + rng.standard_normal(features) / 2, 0
        ).astype(np.float32)
        for _ in range(2)
    ]
    start = time.perf_counter()
    cka.cka(cka.prepare(layers[0]), cka.prepare(layers[1]))
    rates["cka_pair_seconds"] = time.perf_counter() - start
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every part runs")
    args = parser.parse_args()
    device, sizes = torch.device(args.device), QUICK if args.quick else FULL
    if device.type == "cuda":
        deterministic_cuda()  # as every pipeline job on CUDA runs: what is measured is what runs
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"gpu-check on {name}, torch {torch.__version__}{', quick sizes' if args.quick else ''}")
    rows = []
    start = time.perf_counter()
    check_fitter(device, sizes, rows)
    check_gmn(device, sizes, rows)
    check_dump(device, sizes, rows)
    check_repeatable(device, sizes, rows)
    rates = throughputs(device, sizes)
    hours = {
        "INR fitting": INRS / rates["inr"] / 3600,
        "GMN trainings": GMN_TRAININGS * GMN_EPOCHS * TRAIN_SIZE / rates["gmn"] / 3600,
        "MLP + CNN trainings": IMAGE_TRAININGS
        / 2
        * IMAGE_EPOCHS
        * TRAIN_SIZE
        * (1 / rates["cnn"] + 1 / rates["mlp"])
        / 3600,
        "CKA (upper bound)": CKA_PAIRS * LAYER_PAIRS * rates["cka_pair_seconds"] / 3600,
    }
    rows += [
        ("28x28 INRs per second at 1000 steps", f"{rates['inr']:.0f}", "", None),
        ("  implied minutes for 70k INRs", f"{70_000 / rates['inr'] / 60:.1f}", "< 3 (H100/H200)", None),
        (
            f"GMN graphs per second ({sizes.gmn_width} wide, 4 blocks, batch {sizes.batch})",
            f"{rates['gmn']:.0f}",
            "",
            None,
        ),
        ("  implied seconds per epoch of 55k graphs", f"{TRAIN_SIZE / rates['gmn']:.1f}", "< 15 (H100/H200)", None),
        (f"CNN images per second (batch {sizes.batch})", f"{rates['cnn']:.0f}", "", None),
        (f"MLP images per second (batch {sizes.batch})", f"{rates['mlp']:.0f}", "", None),
        (
            f"CKA of one pair: N={sizes.probe}, {sizes.cka_features} features (s)",
            f"{rates['cka_pair_seconds']:.2f}",
            "",
            None,
        ),
        *((f"paper DAG: {what} (device-hours)", f"{h:.2f}", "", None) for what, h in hours.items()),
        ("paper DAG: total (device-hours)", f"{sum(hours.values()):.2f}", "", None),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'check / measure':<{width}}  {'value':>10}  {'goal':<18} ok")
    for what, value, goal, ok in rows:
        print(f"{what:<{width}}  {value:>10}  {goal:<18} {'' if ok is None else ('yes' if ok else 'NO')}")
    print(f"gpu-check took {time.perf_counter() - start:.0f} s")
    if any(ok is False for *_, ok in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
