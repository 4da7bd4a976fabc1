"""What a narrower ScaleGMN costs in accuracy: the same training at each width on a run's INRs.

Trains ScaleGMN with a preset's settings (layered presets, e.g. fmnist fmnist_scalegmn), changing
only the width of node, edge and head features, on the data file and INR shards of a finished run,
and prints per width and seed: test and validation accuracy at the kept epoch, the epoch kept, the
parameters and the CPU seconds of the training (one thread, as the presets' jobs). This measures
the laptop presets' shrink of the reference width (128) that docs/science.md reports.

Run (from the repository root, after `make fmnist`; width 128 takes about two CPU-hours)::

    .venv/bin/python bench/scalegmn_width.py --presets fmnist fmnist_scalegmn \\
        --run results/fmnist --widths 32 128 --seeds 0
"""

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from gmnrep.config import layered
from gmnrep.models.training import TrainingJob, train_and_save

REPOSITORY = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["fmnist", "fmnist_scalegmn"])
    parser.add_argument(
        "--run", type=Path, default=REPOSITORY / "results/fmnist", help="a finished run's results folder"
    )
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--widths", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = layered([REPOSITORY / "config.yaml", *(REPOSITORY / "presets" / f"{p}.yaml" for p in args.presets)])
    settings = config["models"]["scalegmn"]
    shards = sorted((args.run / "inrs" / args.dataset).glob("shard-*.h5"))
    if not shards:
        raise SystemExit(f"{args.run / 'inrs' / args.dataset}: no INR shards; run the preset first")
    print(f"presets {' + '.join(args.presets)}; INRs of {args.run}; training {json.dumps(settings['training'])}")
    print("| width | seed | test % | val % | epoch kept | parameters | CPU s |")
    print("|---|---|---|---|---|---|---|")
    with TemporaryDirectory() as tmp:
        for width in args.widths:
            for seed in args.seeds:
                name = f"w{width}-seed-{seed}"
                job = TrainingJob(
                    dataset=args.dataset, arch="scalegmn", seed=seed,
                    network={**settings["network"], "hidden": width, "head_hidden": width},
                    training=settings["training"], data_path=args.run / "data" / f"{args.dataset}.h5",
                    shard_paths=shards, model_path=Path(tmp) / f"{name}.pt",
                    metrics_path=Path(tmp) / f"{name}.json", device="cpu",
                )  # fmt: skip
                start = time.process_time()
                metrics = train_and_save(job)
                print(
                    f"| {width} | {seed} | {100 * metrics['test_acc']:.2f} | {100 * metrics['val_acc']:.2f} | "
                    f"{metrics['best_epoch']} of {settings['training']['epochs']} | {metrics['num_parameters']:,} | "
                    f"{time.process_time() - start:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
