"""The two accuracy-matched controls side by side: how close each lands to the GMNs' accuracy, what
it costs, and whether the choice changes the CKA the claims compare.

On a finished run of a preset (its data file, INR shards, GMN metrics and activation dumps, e.g.
after `make fmnist`), trains the matched twin of each image architecture and seed both ways
(gmnrep.models.matching: `steps`, the image network's own training stopped at the first step that
reaches the GMNs' mean validation accuracy; `data`, the image network trained on the nested
training subset whose validation accuracy is closest to it), dumps each twin's representations on
the run's probe samples, and prints per twin: the target, validation and test accuracy, where it
was matched and the seconds it took; then per architecture and method: the mean distance to the
target, the cost ratio data / steps, and the mean linear CKA(l, l) between the twins of different
seeds (what C1 compares), with the run's GMNs of the same seed (C2) and with the converged network
of the same seed (how far the twin is from it). One thread, like the preset's jobs.

Run (from the repository root, after `make fmnist`)::

    .venv/bin/python bench/matched_control.py --preset fmnist --archs mlp cnn --seeds 0 1 2
"""

import argparse
import time
from itertools import combinations
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

from gmnrep.config import layered
from gmnrep.models import matching
from gmnrep.models.registry import matched_arch
from gmnrep.models.training import TrainingJob
from gmnrep.paper.accuracy_table import matched_at
from gmnrep.representations import dump_file, extract
from gmnrep.representations.cka import linear_cka

REPOSITORY = Path(__file__).resolve().parents[1]
METHODS = ("steps", "data")


def train_twin(config: dict, root: Path, dataset: str, arch: str, seed: int, method: str, out: Path) -> dict:
    """One matched twin by `method`, and its dump on the run's probe samples: metrics, seconds, layers."""
    models, activations = config["models"], config["activations"]
    shards = sorted((root / "inrs" / dataset).glob("shard-*.h5"))
    data = root / "data" / f"{dataset}.h5"
    model, metrics_path, dump_path = (out / f"{arch}-{method}-{seed}{ext}" for ext in (".pt", ".json", ".h5"))
    matched = models["matched"]
    start = time.perf_counter()
    job = TrainingJob(
        dataset=dataset, arch=matched_arch(arch), seed=seed, network=models[arch]["network"],
        training=models[arch]["training"], data_path=data, shard_paths=shards, model_path=model,
        metrics_path=metrics_path, device="cpu",
    )  # fmt: skip
    settings = matching.MatchingSettings(
        target_arch=matched["target"], method=method,
        evaluate_every=matched["evaluate_every"], subset_fractions=matched["subset_fractions"],
    )  # fmt: skip
    targets = sorted((root / "models" / dataset / matched["target"]).glob("seed-*.metrics.json"))
    metrics = matching.train_matched(job, settings, targets)
    seconds = time.perf_counter() - start
    dump = extract.dump(
        model, data, shards, dump_path,
        probe_size=activations["probe_size"], probe_seed=activations["probe_seed"],
        batch_size=activations["batch_size"], device="cpu",
    )  # fmt: skip
    return {"metrics": metrics, "seconds": seconds, "layers": dump.layers}


def mean_cka(pairs: list[tuple[list[np.ndarray], list[np.ndarray]]], layer: int) -> float:
    return float(np.mean([linear_cka(a[layer - 1], b[layer - 1]) for a, b in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="fmnist")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--archs", nargs="+", default=["mlp", "cnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--layers", nargs="+", type=int, default=[3, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = layered([REPOSITORY / "config.yaml", REPOSITORY / "presets" / f"{args.preset}.yaml"])
    root = REPOSITORY / config["results"]
    dumps = root / "activations" / args.dataset

    def run_layers(arch: str, seed: int) -> list[np.ndarray]:
        return dump_file.read(dumps / arch / f"seed-{seed}.h5").layers

    twins = {}
    print(f"{args.preset}, {args.dataset}; one thread; torch {torch.__version__}")
    print(
        f"{'arch':<5} {'method':<6} {'seed':>4} {'target':>7} {'val':>7} {'test':>7}  {'matched at':<14} {'seconds':>8}"
    )
    with TemporaryDirectory() as tmp:
        for arch in args.archs:
            for method in METHODS:
                for seed in args.seeds:
                    twin = train_twin(config, root, args.dataset, arch, seed, method, Path(tmp))
                    twins[arch, method, seed] = twin
                    m = twin["metrics"]
                    print(
                        f"{arch:<5} {method:<6} {seed:>4} {100 * m['stop']['target_val_acc']:>7.2f} "
                        f"{100 * m['val_acc']:>7.2f} {100 * m['test_acc']:>7.2f}  {matched_at(m['stop']):<14} "
                        f"{twin['seconds']:>8.1f}",
                        flush=True,
                    )
    print()
    header = " ".join(f"{f'{name} CKA({l},{l})':>18}" for name in ("seeds", "GMN", "converged") for l in args.layers)
    print(f"{'arch':<5} {'method':<6} {'|val-target|':>12} {'seconds':>8} {'cost ratio':>10} {header}")
    for arch in args.archs:
        seconds = {method: np.mean([twins[arch, method, s]["seconds"] for s in args.seeds]) for method in METHODS}
        for method in METHODS:
            rows = [twins[arch, method, s] for s in args.seeds]
            distance = np.mean(
                [100 * abs(r["metrics"]["val_acc"] - r["metrics"]["stop"]["target_val_acc"]) for r in rows]
            )
            across = [
                (twins[arch, method, a]["layers"], twins[arch, method, b]["layers"])
                for a, b in combinations(args.seeds, 2)
            ]
            with_gmn = [(r["layers"], run_layers("gmn", s)) for r, s in zip(rows, args.seeds)]
            converged = [(r["layers"], run_layers(arch, s)) for r, s in zip(rows, args.seeds)]
            cells = [mean_cka(pairs, l) for pairs in (across, with_gmn, converged) for l in args.layers]
            ratio = seconds[method] / seconds["steps"]
            print(
                f"{arch:<5} {method:<6} {distance:>12.2f} {seconds[method]:>8.1f} {ratio:>9.1f}x "
                + " ".join(f"{c:>18.3f}" for c in cells)
            )


if __name__ == "__main__":
    main()
