"""Our GMN beside the references of its kind, on the same INRs and budget: NG-GNN, neural-graphs'
own INR classification, and Lim et al.'s GMN code (which has no training loop) in ours; and our NFN
beside neural-graphs' NFN (`--models nfn`: its configs/model/nfn.yaml, no script of its own, at our
preset's channels: `--presets fmnist fmnist_scalegmn fmnist_metanetworks`).

NG-GNN (`--neural-graphs`): the reference (mkofinas/neural-graphs: a checkout the user fetched, and
a Python environment with its dependencies, e.g. `pip install torch==2.13.0 torch-geometric==2.3.1
hydra-core einops` and `pip install --no-deps random-fourier-features-pytorch`; torch-geometric 2.4
and later lack the `trim_to_layer` module it imports) runs its own experiments/inr_classification/main.py
(bench/references/neural_graphs.py) on a run's INRs exported in its layout (gmnrep.inr.export) and
listed by its own dataset/preprocess_fmnist.py, with the normalisation statistics its own
dataset/compute_fmnist_statistics.py prints for them (the published config holds those of the
published INRs). Its settings are those of its scripts/fmnist_cls_<model>.sh (NG-GNN: `model=pna`),
changed only where the budget forces it:

- epochs: `--epochs` (ours: the same number);
- warmup: its 1000 steps scaled with the training INRs (55000 published), rounded;
- evaluation once per epoch (its `eval_every` in steps), as ours;
- one process, one thread (`num_workers=0`, `distributed=null`);
- `model.modulate_v=True` is left out: Hydra refuses it, the PNA configuration has no such key.

Lim et al. (`--lim-gmn`): their parameter graphs, encoder, EdgeMPNN and readout, imported from a
checkout of cptq/graph_metanetworks (bench/references/lim_gmn.py says what the adapter adds; it
needs torch-geometric 2.3.1 in this environment: `pip install -e .[references]`), at the presets'
GMN width and depth and trained with the presets' GMN training, so the rows differ only in the
network. `--lim-inputs`: the parameters standardised per layer as our GMN does, or raw.

Ours: the GMN (and with `--models nfn` the NFN) of the presets, trained by the pipeline's own
training (gmnrep.models.training) on the run's INRs with the same seeds and epochs, one thread. A
training's row: test accuracy at the kept epoch (ours: the best validation epoch, the first of
ties; the reference: the last epoch whose
validation accuracy is at least every earlier one's), validation accuracy, epoch kept, epochs,
optimizer steps and CPU seconds; then mean ± std per implementation, the test accuracy after every
epoch, and, for networks with BatchNorm (Lim et al.'s), the kept model's test accuracy with its
running statistics as training left them and with statistics re-estimated over the training INRs.

Every run's files stay in `--output` (default results/bench/parity_gmn): a rerun with the same
arguments prints the finished runs again without repeating them.

Run (from the repository root, after `make fmnist`; one NG-GNN epoch is about 200 CPU seconds, one
of Lim et al.'s about 60, one of ours about 12)::

    .venv/bin/python bench/parity_gmn.py --neural-graphs /path/to/neural-graphs \\
        --python /path/to/reference-env/bin/python --lim-gmn /path/to/graph_metanetworks \\
        --epochs 20 --seeds 0 1 2 --jobs 3
"""

import argparse
import json
import math
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import torch

import parity
from gmnrep.config import layered
from gmnrep.data.sources import SOURCES
from gmnrep.data.splits import SPLIT_NAMES
from gmnrep.inr.export import SPLITS_FILE, export_neural_graphs
from gmnrep.models import checkpoints, registry
from gmnrep.models.samples import Samples, load_samples
from gmnrep.models.training import TrainingJob, evaluate, train_and_save
from references import lim_gmn

REPOSITORY = Path(__file__).resolve().parents[1]
ENTRY = REPOSITORY / "bench/references/neural_graphs.py"
DATASET = "fashion_mnist"
PUBLISHED_TRAIN_INRS = 55000  # neural-graphs' dataset/fmnist_splits.json
PUBLISHED_WARMUP_STEPS = 1000  # its configs/base.yaml
# its scripts/fmnist_cls_<model>.sh, less the settings named above
PUBLISHED_FLAGS = {
    "pna": [
        "data.train.augmentation=True", "model.graph_constructor.num_probe_features=0",
        "model.gnn_backbone.dropout=0.2", "model.graph_constructor.use_pos_embed=True",
        "model.rev_edge_features=True",
    ],
    "rtransformer": [
        "data.train.augmentation=True", "model.graph_constructor.num_probe_features=0", "model.dropout=0.2",
        "model.graph_constructor.use_pos_embed=True",
    ],
    "nfn": [],
    "dwsnet": [],  # no script: its configs/model/dwsnet.yaml, DWSNets' own INR-classification settings
}  # fmt: skip
# Which of our architectures trains beside each of neural-graphs' models.
OURS_BESIDE = {"pna": "gmn", "rtransformer": "gmn", "nfn": "nfnnp", "dwsnet": "gmn"}
STATISTICS = ("weights_mean", "weights_std", "biases_mean", "biases_std")


def reference_data(args) -> tuple[Path, dict]:
    """The reference's own splits file and normalisation statistics for the exported INRs."""
    output = args.output
    splits, statistics = output / "reference_splits.json", output / "reference_statistics.json"
    if not statistics.exists():
        env = os.environ | {"PYTHONPATH": str(ENTRY.parent)}  # the torchvision stand-in
        dataset = "experiments.inr_classification.dataset"
        common = {"cwd": args.neural_graphs, "env": env, "check": True, "capture_output": True, "text": True}
        subprocess.run(
            [str(args.python), "-m", f"{dataset}.preprocess_fmnist",
             "--data-path", str(output / "export" / SPLITS_FILE), "--save-path", str(output), "--name", splits.name],
            **common,
        )  # fmt: skip
        printed = subprocess.run(
            [str(args.python), "-m", f"{dataset}.compute_fmnist_statistics", "--data-path", "/",
             "--save-path", str(output), "--splits-path", str(splits), "--statistics-path", "reference_statistics.pth"],
            **common,
        ).stdout  # fmt: skip
        values = {key: json.loads(re.search(rf"^{key}: (\[.*\])$", printed, re.M)[1]) for key in STATISTICS}
        statistics.write_text(json.dumps(values))
    return splits, json.loads(statistics.read_text())


def width_flags(model: str, config: dict) -> list[str]:
    """Neural-graphs' NFN at our NFN's channels (the laptop presets narrow both alike)."""
    if model != "nfn":
        return []
    return [f"model.hchannels=[{','.join(map(str, config['models']['nfnnp']['network']['hchannels']))}]"]


def run_reference(args, model: str, seed: int, splits: Path, statistics: dict, train_inrs: int, width: list[str]):
    folder = args.output / f"{model}-epochs-{args.epochs}-seed-{seed}"
    result = folder / "result.json"
    if not result.exists():
        folder.mkdir(parents=True, exist_ok=True)
        batch_size = 128  # its configs/base.yaml, not changed by its scripts
        overrides = [
            f"seed={seed}", f"model={model}", "data=fmnist", f"n_epochs={args.epochs}", *PUBLISHED_FLAGS[model], *width,
            "data.dataset_dir=/", f"data.splits_path={splits}",
            *(f"data.stats.{key}={json.dumps(value)}" for key, value in statistics.items()),
            f"scheduler.warmup_steps={round(PUBLISHED_WARMUP_STEPS * train_inrs / PUBLISHED_TRAIN_INRS)}",
            f"eval_every={math.ceil(train_inrs / batch_size)}", "num_workers=0", "distributed=null",
            f"hydra.run.dir={folder / 'hydra'}",
        ]  # fmt: skip
        env = os.environ | {"REFERENCE_LOG": str(folder / "log.jsonl"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [str(args.python), str(ENTRY), str(args.neural_graphs), *overrides]
        result.write_text(json.dumps({"cpu": parity.run_measured(command, env, folder / "out.txt")}))
    cpu = json.loads(result.read_text())["cpu"]
    return parity.reference_row(folder / "log.jsonl", folder / "out.txt", "train/loss", cpu)


def run_inputs(run: Path) -> tuple[Path, list[Path]]:
    """The fmnist run's dataset file and INR shards, which every training here reads."""
    return run / "data" / f"{DATASET}.h5", sorted((run / "inrs" / DATASET).glob("shard-*.h5"))


@cache
def run_samples(arch: str, run: Path) -> Samples:
    return load_samples(arch, *run_inputs(run))


def trained_name(label: str, epochs: int, seed: int) -> str:
    """The files of a training by train_in_process in the output folder: NAME.pt, NAME.metrics.json, ..."""
    return f"{label}-epochs-{epochs}-seed-{seed}"


def train_in_process(args, label: str, arch: str, network: dict, training: dict, seed: int, run: Path) -> dict:
    """A training by the pipeline's own training code: our GMN or NFN, or Lim et al.'s adapted network."""
    name = trained_name(label, args.epochs, seed)
    result, metrics_path = args.output / f"{name}.result.json", args.output / f"{name}.metrics.json"
    if not result.exists():
        data_path, shard_paths = run_inputs(run)
        job = TrainingJob(
            dataset=DATASET, arch=arch, seed=seed, network=network, training=training,
            data_path=data_path, shard_paths=shard_paths,
            model_path=args.output / f"{name}.pt", metrics_path=metrics_path, device="cpu",
        )  # fmt: skip
        start = time.process_time()
        train_and_save(job)
        result.write_text(json.dumps({"cpu": time.process_time() - start}))
    metrics = json.loads(metrics_path.read_text())
    return {
        "test": metrics["test_acc"],
        "val": metrics["val_acc"],
        "kept": metrics["best_epoch"],
        "epochs": len(metrics["history"]),
        "steps": len(metrics["history"]) * math.ceil(metrics["samples"]["train"] / training["batch_size"]),
        "cpu": json.loads(result.read_text())["cpu"],
        "curve": [epoch["test_acc"] for epoch in metrics["history"]],
    }


def batchnorm_test_accuracies(model_path: Path, arch: str, run: Path, batch_size: int) -> tuple[float, float] | None:
    """The kept model's test accuracy with its BatchNorm layers' running statistics as training left
    them, then with statistics re-estimated in one pass over the training INRs (a cumulative
    average, no optimizer step: "precise BatchNorm", Wu and Johnson 2021); None without BatchNorm.
    Whether a network's evaluations are held back by statistics that lag its weights."""
    model, _ = checkpoints.load(model_path)
    norms = [module for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return None
    samples = run_samples(arch, run)
    rows = {split: torch.from_numpy(np.flatnonzero(samples.split == SPLIT_NAMES[split])) for split in ("train", "test")}
    stored = evaluate(model, samples, rows["test"], batch_size)[1]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the pass
    model.train()
    with torch.no_grad():
        for batch in rows["train"].split(batch_size):
            model(samples.take(batch))
    return stored, evaluate(model, samples, rows["test"], batch_size)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--neural-graphs", type=Path, help="a checkout of mkofinas/neural-graphs")
    parser.add_argument("--python", type=Path, help="the python of an environment with neural-graphs' dependencies")
    parser.add_argument("--models", nargs="+", choices=sorted(PUBLISHED_FLAGS), default=["pna"])
    parser.add_argument("--lim-gmn", type=Path, help="a checkout of cptq/graph_metanetworks")
    parser.add_argument("--lim-inputs", nargs="+", choices=lim_gmn.INPUTS, default=["standardised"])
    parser.add_argument("--presets", nargs="+", default=["fmnist"])
    parser.add_argument("--epochs", type=int, help="every side's epochs (default: the presets' GMN epochs)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="neural-graphs trainings at once (ours run beside them)")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "results/bench/parity_gmn")
    args = parser.parse_args()
    if args.neural_graphs and not args.python:
        parser.error("--neural-graphs needs --python")
    config = layered([REPOSITORY / "config.yaml", *(REPOSITORY / "presets" / f"{p}.yaml" for p in args.presets)])
    settings = config["models"]["gmn"]
    args.epochs = args.epochs or settings["training"]["epochs"]
    training = {**settings["training"], "epochs": args.epochs}
    ours = ["gmn", *(OURS_BESIDE[model] for model in args.models if args.neural_graphs and OURS_BESIDE[model] != "gmn")]
    run = REPOSITORY / config["results"]
    shards = run_inputs(run)[1]
    if not shards:
        raise SystemExit(f"{run / 'inrs' / DATASET}: no INR shards; run the presets first")
    args.output = args.output.resolve()  # the references run in their own checkouts
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    print(f"presets {' + '.join(args.presets)}: {args.epochs} epochs for every training")
    for arch in ours:
        own = config["models"][arch]
        print(f"ours: {registry.title(arch)} {json.dumps(own['network'])}, training {json.dumps(own['training'])}")
    in_process = {}
    if args.lim_gmn:
        registry.ARCHITECTURES["limgmn"] = lim_gmn.architecture(args.lim_gmn)
        for inputs in args.lim_inputs:
            network = {"hidden": settings["network"]["hidden"], "blocks": settings["network"]["blocks"],
                       "readout_layers": 2, "inputs": inputs}  # fmt: skip
            in_process[f"Lim et al.'s GMN, {inputs} inputs"] = (f"limgmn-{inputs}", "limgmn", network, training)
            print(f"Lim et al.'s GMN ({inputs} inputs): {json.dumps(network)}, the same training")
    for arch in ours:
        own = config["models"][arch]
        in_process[f"ours, {registry.title(arch)}"] = (
            arch,
            arch,
            own["network"],
            {**own["training"], "epochs": args.epochs},
        )
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {}
        if args.neural_graphs:
            if not (args.output / "export").exists():
                export_neural_graphs(shards, args.output / "export", SOURCES[DATASET].num_official_train)
            train_inrs = len(json.loads((args.output / "export" / SPLITS_FILE).read_text())["train"])
            splits, statistics = reference_data(args)
            print(f"neural-graphs: normalisation statistics of these INRs {json.dumps(statistics)}")
            for model in args.models:
                for seed in args.seeds:
                    futures[(f"neural-graphs {model}", seed)] = pool.submit(
                        run_reference, args, model, seed, splits, statistics, train_inrs, width_flags(model, config)
                    )
        rows = {
            (name, seed): train_in_process(args, label, arch, network, own_training, seed, run)
            for name, (label, arch, network, own_training) in in_process.items()
            for seed in args.seeds
        }
        rows = {key: future.result() for key, future in futures.items()} | rows
    parity.print_header(("implementation", "seed"))
    groups = {}
    for (name, seed), row in rows.items():
        parity.print_row((name, seed), row)
        groups.setdefault(name, []).append(row)
    parity.print_summary(groups)
    print("\ntest accuracy (%) after each epoch:")
    for (name, seed), row in rows.items():
        print(f"{name}, seed {seed}: " + " ".join(f"{100 * value:.0f}" for value in row["curve"]))
    print("\ntest accuracy (%) of each kept model with BatchNorm, its running statistics as trained / re-estimated:")
    for name, (label, arch, _, own_training) in in_process.items():
        for seed in args.seeds:
            model_path = args.output / f"{trained_name(label, args.epochs, seed)}.pt"
            accuracies = batchnorm_test_accuracies(model_path, arch, run, own_training["batch_size"])
            if accuracies is not None:
                print(f"{name}, seed {seed}: {100 * accuracies[0]:.2f} / {100 * accuracies[1]:.2f}")


if __name__ == "__main__":
    main()
