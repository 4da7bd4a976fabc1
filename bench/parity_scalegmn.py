"""Our ScaleGMN beside the reference implementation's own training, on the same INRs and budget.

The reference (jkalogero/scalegmn: a checkout the user fetched, and a Python environment with its
dependencies, e.g. `pip install torch==2.13.0 torch-geometric nfn einops pyyaml tqdm wandb` and
`pip install --no-deps random-fourier-features-pytorch`) runs its own inr_classification.py
(bench/references/scalegmn.py) on a run's INRs exported in its layout (gmnrep.inr.export),
with its Fashion-MNIST configuration (configs/fmnist_cls/scalegmn.yml) changed only where the
preset changes ours: width, epochs and the warmup scaled with the data. Phase canonicalisation is
off (`switch_to_canon`: the published runs read INRs canonicalised by a separate script; ours are
not). `--inputs scaled` gives the reference the same INRs with each layer's weights and biases
divided by their root mean square over the training INRs, what our ScaleGMN's `set_input_scale`
does inside the model (docs/science.md: the reference's raw inputs barely move its features), to
isolate that departure. One thread per training.

Prints per implementation, inputs and seed: test accuracy at the kept epoch (ours: the best
validation epoch, the first of ties; the reference: the last epoch whose validation accuracy is at
least the best before), validation accuracy, epoch kept, epochs, optimizer steps and CPU seconds;
then mean ± std per implementation. Ours are read from the run's metrics and Snakemake benchmarks.

Run (from the repository root, after `make fmnist-scalegmn`)::

    .venv/bin/python bench/parity_scalegmn.py --reference /path/to/scalegmn \\
        --python /path/to/reference-env/bin/python --inputs raw scaled --seeds 0 1 2
"""

import argparse
import json
import math
import os
import shutil
from pathlib import Path
from tempfile import TemporaryDirectory

import torch
import yaml

import parity
from gmnrep.config import layered
from gmnrep.data.sources import SOURCES
from gmnrep.inr.export import SPLITS_FILE, export_neural_graphs

REPOSITORY = Path(__file__).resolve().parents[1]
ENTRY = REPOSITORY / "bench/references/scalegmn.py"
DATASET = "fashion_mnist"


def scale_by_training_rms(folder: Path) -> None:
    """Divide each layer's weights and biases, in every INR of the export, by their root mean square
    over the training INRs (as ScaleGMN.set_input_scale, in float64)."""
    listing = json.loads((folder / SPLITS_FILE).read_text())
    sums = {}
    for name in listing["train"]:
        for key, value in torch.load(folder / name).items():
            if key != "label":
                sums[key] = sums.get(key, 0.0) + value.double().square().mean()
    scale = {key: (total / len(listing["train"])).sqrt().clamp(min=1e-12) for key, total in sums.items()}
    for name in {n for names in listing.values() for n in names}:
        member = torch.load(folder / name)
        scaled = {k: v if k == "label" else (v.double() / scale[k]).to(v.dtype) for k, v in member.items()}
        torch.save(scaled, folder / name)


def reference_config(checkout: Path, folder: Path, settings: dict, output: Path) -> None:
    config = yaml.safe_load((checkout / "configs/fmnist_cls/scalegmn.yml").read_text())
    config["data"].update(dataset_path=f"{folder}/", split_path=str(folder / SPLITS_FILE), switch_to_canon=False)
    config["optimization"]["scheduler_args"]["warmup_steps"] = settings["training"]["warmup_steps"]
    output.write_text(yaml.safe_dump(config))


def run_reference(args, config: Path, settings: dict, seed: int, log: Path) -> dict:
    network, training = settings["network"], settings["training"]
    flags = {
        "--scalegmn_args.d_hid": network["hidden"],
        "--scalegmn_args.num_layers": network["layers"],
        "--train_args.num_epochs": training["epochs"],
        "--train_args.seed": seed,
        "--batch_size": training["batch_size"],
        "--optimization.optimizer_args.lr": training["lr"],
        "--optimization.optimizer_args.weight_decay": training["weight_decay"],
        "--optimization.clip_grad_max_norm": training["clip_grad_norm"],
        "--scalegmn_args.gnn_args.dropout": network["block_dropout"],
        "--num_workers": 0,
        "--wandb": True,
    }
    command = [str(args.python), str(ENTRY), str(args.reference), "--conf", str(config)]
    command += [str(part) for flag, value in flags.items() for part in (flag, value)]
    env = os.environ | {"REFERENCE_LOG": str(log), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cpu = parity.run_measured(command, env, log.with_suffix(".out"))
    return parity.reference_row(log, log.with_suffix(".out"), "train/CrossEntropyLoss", cpu)


def ours(results: Path, logs: Path, seed: int, train_size: int, batch_size: int) -> dict:
    metrics = json.loads((results / f"models/{DATASET}/scalegmn/seed-{seed}.metrics.json").read_text())
    benchmark = logs / f"benchmarks/models/{DATASET}/scalegmn/seed-{seed}.tsv"
    header, values = (line.split("\t") for line in benchmark.read_text().splitlines())
    epochs = len(metrics["history"])
    return {
        "test": metrics["test_acc"],
        "val": metrics["val_acc"],
        "kept": metrics["best_epoch"],
        "epochs": epochs,
        "steps": epochs * math.ceil(train_size / batch_size),
        "cpu": float(dict(zip(header, values))["cpu_time"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of jkalogero/scalegmn")
    parser.add_argument("--python", type=Path, required=True, help="the python of an environment with its dependencies")
    parser.add_argument("--presets", nargs="+", default=["fmnist", "fmnist_scalegmn"])
    parser.add_argument("--inputs", nargs="+", choices=["raw", "scaled"], default=["raw", "scaled"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    config = layered([REPOSITORY / "config.yaml", *(REPOSITORY / "presets" / f"{p}.yaml" for p in args.presets)])
    settings = config["models"]["scalegmn"]
    results, logs = REPOSITORY / config["results"], REPOSITORY / config["logs"]
    shards = sorted((results / "inrs" / DATASET).glob("shard-*.h5"))
    if not shards:
        raise SystemExit(f"{results / 'inrs' / DATASET}: no INR shards; run the presets first")
    print(f"presets {' + '.join(args.presets)}: ScaleGMN {json.dumps(settings['network'])}")
    print(f"training {json.dumps(settings['training'])}; one thread per training")
    parity.print_header(("implementation", "inputs", "seed"))
    rows = {}
    with TemporaryDirectory() as tmp:
        counts = export_neural_graphs(shards, Path(tmp) / "export", SOURCES[DATASET].num_official_train)
        for inputs in args.inputs:
            folder = Path(tmp) / f"export-{inputs}"
            shutil.copytree(Path(tmp) / "export", folder)
            if inputs == "scaled":
                scale_by_training_rms(folder)
            conf = Path(tmp) / f"config-{inputs}.yml"
            reference_config(args.reference, folder, settings, conf)
            for seed in args.seeds:
                row = run_reference(args, conf, settings, seed, Path(tmp) / f"{inputs}-{seed}.jsonl")
                rows.setdefault(f"reference, {inputs}", []).append(row)
                parity.print_row(("reference", inputs, seed), row)
    for seed in args.seeds:
        row = ours(results, logs, seed, counts["train"], settings["training"]["batch_size"])
        rows.setdefault("ours, raw", []).append(row)
        parity.print_row(("ours", "raw (scaled inside the model)", seed), row)
    parity.print_summary(rows)


if __name__ == "__main__":
    main()
