"""A pool of real trained networks for the claims' calibration (bench/claims_calibration.py):
built once, cached, read by gmnrep.paper.calibration's real-network nulls.

What is trained
---------------
The project's own image networks (gmnrep.models.image_models, config.yaml's sizes: MLP 4 x 256
hidden + 128, CNN 32/64/64/128 channels + 128, dropout 0.1), with AdamW (weight decay 0.01) on the
first ``--train`` Fashion-MNIST training images, one torch thread each, in groups that give the
nulls their structure:

- ``mlp``: 40 MLPs, seeds 0..39 (initialisation and data order), lr 1e-3, 4 epochs: a homogeneous pool;
- ``mlp-cluster``: 10 MLPs sharing one initialisation (seed 1000), each with its own data order:
  closer to each other than to the rest (a cluster of seeds);
- ``mlp-spread``: 30 MLPs whose lr (log-uniform in [1e-4, 1e-2]) and epochs (1, 2, 4 or 8) vary
  with the seed: a group with a wide seed-to-seed spread;
- ``cnn``: 15 CNNs, seeds 0..14, lr 1e-3, 2 epochs: the third architecture of C2's and C3's nulls.

What is kept, for ``--probes`` held-out samples (the first of the Fashion-MNIST test set): each
network's representation layers 3 and 4 (float16), whether it classified each sample correctly, its
group, seed, lr and epochs, and the samples' labels. One .npz under results/bench/ (never tracked).

Numerics are pinned like the pipeline's jobs (gmnrep.core.numerics), so the pool is the same on
every CPU. About 10 minutes on one core of the 2-core EPYC.

Run (from the repository root)::

    .venv/bin/python bench/real_network_pool.py
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gmnrep.core import numerics  # noqa: E402

numerics.pin()
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gmnrep.data.formats import read_idx_pair  # noqa: E402
from gmnrep.models.image_models import CNN, MLP  # noqa: E402

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
POOL = Path("results/bench/real_network_pool.npz")
LAYERS = (3, 4)  # the representation layers the calibration compares


def _groups() -> list[dict]:
    """Every network to train: its group, architecture, seeds, lr and epochs."""
    spread = np.random.default_rng(7)
    networks = [{"group": "mlp", "arch": "mlp", "init": s, "order": s, "lr": 1e-3, "epochs": 4} for s in range(40)]
    networks += [
        {"group": "mlp-cluster", "arch": "mlp", "init": 1000, "order": s, "lr": 1e-3, "epochs": 4} for s in range(10)
    ]
    networks += [
        {
            "group": "mlp-spread",
            "arch": "mlp",
            "init": 2000 + s,
            "order": 2000 + s,
            "lr": float(10 ** spread.uniform(-4, -2)),
            "epochs": int(spread.choice([1, 2, 4, 8])),
        }
        for s in range(30)
    ]
    networks += [{"group": "cnn", "arch": "cnn", "init": s, "order": s, "lr": 1e-3, "epochs": 2} for s in range(15)]
    return networks


def _train(spec: dict, images: torch.Tensor, labels: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(spec["init"])
    network = (MLP if spec["arch"] == "mlp" else CNN)((28, 28), 10, dropout=0.1)
    optimizer = torch.optim.AdamW(network.parameters(), lr=spec["lr"], weight_decay=0.01)
    order = torch.Generator().manual_seed(spec["order"])
    network.train()
    for _ in range(spec["epochs"]):
        for rows in torch.randperm(len(images), generator=order).split(128):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(network(images[rows]), labels[rows]).backward()
            optimizer.step()
    return network.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=12000, help="training images")
    parser.add_argument("--probes", type=int, default=1500, help="held-out samples kept")
    parser.add_argument("--output", type=Path, default=POOL)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_x, train_y = read_idx_pair(
        FASHION_MNIST / "train-images-idx3-ubyte.gz", FASHION_MNIST / "train-labels-idx1-ubyte.gz", (28, 28)
    )
    test_x, test_y = read_idx_pair(
        FASHION_MNIST / "t10k-images-idx3-ubyte.gz", FASHION_MNIST / "t10k-labels-idx1-ubyte.gz", (28, 28)
    )
    images, labels = torch.from_numpy(train_x[: args.train]), torch.from_numpy(train_y[: args.train]).long()
    probes, probe_labels = torch.from_numpy(test_x[: args.probes]), test_y[: args.probes]
    specs = _groups()
    kept = {f"layer{layer}": [] for layer in LAYERS} | {"correct": []}
    started = time.perf_counter()
    for number, spec in enumerate(specs, 1):
        network = _train(spec, images, labels)
        with torch.no_grad():
            logits, layers = network.representations(probes)
        kept["correct"].append(logits.argmax(1).numpy() == probe_labels)
        for layer in LAYERS:
            kept[f"layer{layer}"].append(layers[layer - 1].numpy().astype(np.float16))
        accuracy = kept["correct"][-1].mean()
        print(
            f"[{number}/{len(specs)}] {spec['group']} init {spec['init']} lr {spec['lr']:.1e} "
            f"epochs {spec['epochs']}: accuracy {accuracy:.3f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_suffix(".partial.npz")
    arrays = {
        "group": np.array([s["group"] for s in specs]),
        "arch": np.array([s["arch"] for s in specs]),
        "seed": np.array([s["init"] for s in specs]),
        "lr": np.array([s["lr"] for s in specs]),
        "epochs": np.array([s["epochs"] for s in specs]),
        "label": probe_labels,
        "correct": np.stack(kept["correct"]),
    }
    for layer in LAYERS:  # MLPs and CNNs differ in width: one array per network
        for index, values in enumerate(kept[f"layer{layer}"]):
            arrays[f"layer{layer}_{index}"] = values
    np.savez(partial, **arrays)
    partial.replace(args.output)
    print(f"wrote {args.output}: {len(specs)} networks, {args.probes} probe samples")


if __name__ == "__main__":
    main()
