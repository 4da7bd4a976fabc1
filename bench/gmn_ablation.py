"""GMN ablation on fitted INRs: which encoder, readout, regularisation and training schedule to use.

Trains one GMN per named variant on the same INR shards (e.g. the `fmnist` preset's Fashion-MNIST
shards, fitted by the pipeline) with gmnrep.models.training.train, the model selection of the pipeline
(best validation epoch), and prints one table: variant, what it changes, epochs, seconds per
epoch, best validation accuracy and the test accuracy of that epoch. Variants change the GMN
settings of config.yaml's chosen preset (`--preset`); `--jobs 2` trains two variants at once,
one thread each. `--train-sizes` repeats every variant on the first N training INRs (an
accuracy-versus-size curve); `--results` reads another results folder of the same preset.

Run (from the repository root, after `make fmnist` or at least its INR shards)::

    .venv/bin/python bench/gmn_ablation.py --preset fmnist --epochs 12 --jobs 2
    .venv/bin/python bench/gmn_ablation.py --preset fmnist --variant preset --train-sizes 500 1000 2000
"""

import argparse
import copy
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from gmnrep.config import layered
from gmnrep.models.samples import LEFT_OUT, load_samples
from gmnrep.models.training import TrainingSettings, model_kwargs, train

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"

AFFINE = {"rotation_deg": 15.0, "scale": 0.1, "translation": 0.1}
# name -> (description, network changes, training changes), each relative to the preset.
VARIANTS = {
    "preset": ("the preset's settings", {}, {}),
    "sin": ("sine scalar encoder", {"encoder": "sin"}, {}),
    "rff": ("random Fourier feature encoder", {"encoder": "rff"}, {}),
    "output": ("readout from the output node", {"readout": "output"}, {}),
    "nodes_edges": ("readout from nodes and edges", {"readout": "nodes_edges"}, {}),
    "head2": ("2 hidden head layers", {"head_layers": 2}, {}),
    "dropout": ("dropout 0.2 in blocks and head", {"dropout": 0.2, "block_dropout": 0.2}, {}),
    "warmup-clip": ("warmup 500 steps, clipping at 10", {}, {"warmup_steps": 500, "clip_grad_norm": 10.0}),
    "cosine": ("cosine learning-rate schedule", {}, {"schedule": "cosine"}),
    "augment": ("rotation 15 deg, scale 0.1, translation 0.1", {}, {"augmentation": AFFINE}),
    "noise": ("weight noise 0.05 std", {}, {"augmentation": {"noise": 0.05}}),
    "nodes_edges+warmup-clip": (
        "readout from nodes and edges, warmup 1 epoch (31 steps), clipping at 10",
        {"readout": "nodes_edges"},
        {"warmup_steps": 31, "clip_grad_norm": 10.0},
    ),
    "nodes_edges+augment": (
        "readout from nodes and edges, and the augmentation above",
        {"readout": "nodes_edges"},
        {"augmentation": AFFINE},
    ),
    "lr1e-3": ("learning rate 1e-3", {}, {"lr": 1.0e-3}),
    "wide": ("width 48", {"hidden": 48, "head_hidden": 48}, {}),
}


def run_variant(
    name: str, preset: str, epochs: int, seed: int, dataset: str, results: str | None, train_size: int | None
) -> dict:
    torch.set_num_threads(1)
    config = layered([CONFIG, CONFIG.parent / "presets" / f"{preset}.yaml"])
    gmn = copy.deepcopy(config["models"]["gmn"])
    _, network_changes, training_changes = VARIANTS[name]
    gmn["network"].update(network_changes)
    gmn["training"].update(training_changes, epochs=epochs)
    root = Path(results or config["results"])
    samples = load_samples("gmn", root / "data" / f"{dataset}.h5", sorted((root / "inrs" / dataset).glob("shard-*.h5")))
    if train_size is not None:
        samples.split[(samples.split == 0).nonzero()[0][train_size:]] = LEFT_OUT  # the first N, not a draw
    kwargs = model_kwargs("gmn", gmn["network"], dataset, samples)
    start = time.perf_counter()
    result = train("gmn", kwargs, samples, TrainingSettings(**gmn["training"]), seed, torch.device("cpu"), name)
    seconds = (time.perf_counter() - start) / epochs
    best = result.history[result.best_epoch - 1]
    return {
        "variant": name,
        "epochs": epochs,
        "s_per_epoch": seconds,
        "best_epoch": result.best_epoch,
        "val_acc": best["val_acc"],
        "test_acc": best["test_acc"],
        "train_n": int((samples.split == 0).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="fmnist")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: all")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--results", help="results folder to read (default: the preset's)")
    parser.add_argument("--train-sizes", type=int, nargs="+", help="default: every training INR")
    args = parser.parse_args()
    runs = [(n, size) for size in (args.train_sizes or [None]) for n in (args.variant or list(VARIANTS))]
    print(f"{args.dataset} INRs of preset {args.preset!r} ({args.results or 'its results'}), seed {args.seed}")
    print(
        "| variant | change | training INRs | epochs | s/epoch | best epoch | val acc | test acc |\n"
        "|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run_variant, n, args.preset, args.epochs, args.seed, args.dataset, args.results, size)
            for n, size in runs
        ]
        for future in futures:
            r = future.result()
            print(
                f"| {r['variant']} | {VARIANTS[r['variant']][0]} | {r['train_n']} | {r['epochs']} | "
                f"{r['s_per_epoch']:.1f} | {r['best_epoch']} | {r['val_acc']:.3f} | {r['test_acc']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
