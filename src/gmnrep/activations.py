"""Activation dumps: computing every representation layer of a trained model on a dataset's probe
samples (the file itself: `activation_dump`).

The probe samples are the test INRs of the dataset's shards (for image networks, their images),
or a seeded subset of them, in increasing image index. They depend only on the shards and the
probe settings, never on the model, so every dump of a dataset lists the same samples in the same
order and CKA can compare any two dumps row by row.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoints, training
from .activation_dump import ActivationDump, write
from .config import config_hash
from .errors import DataError
from .splits import TEST


def probe_rows(samples: training.Samples, probe_size: int | None, probe_seed: int) -> np.ndarray:
    """Rows of `samples` to probe: all test samples, or `probe_size` of them drawn with `probe_seed`,
    ordered by image index."""
    test = np.flatnonzero(samples.split == TEST)
    if len(test) == 0:
        raise DataError("the shards hold no test samples to probe")
    if probe_size is not None and probe_size < len(test):
        test = np.random.default_rng(probe_seed).choice(test, size=probe_size, replace=False)
    return test[np.argsort(samples.image_index[test], kind="stable")]


@torch.no_grad()
def compute(model: torch.nn.Module, samples: training.Samples, rows: np.ndarray, batch_size: int, name: str):
    """Logits and every representation layer of `model` on `rows`, as float32 numpy arrays."""
    model.eval()
    layers, logits = None, []
    for start in tqdm(range(0, len(rows), batch_size), desc=name, unit="batch"):
        batch = torch.from_numpy(rows[start : start + batch_size]).to(samples.labels.device)
        out, reps = model.representations(samples.take(batch))
        layers = [[] for _ in reps] if layers is None else layers
        for collected, rep in zip(layers, reps):
            collected.append(rep.float().cpu().numpy())
        logits.append(out.float().cpu().numpy())
    return [np.concatenate(parts) for parts in layers], np.concatenate(logits)


def dump(
    model_path: Path,
    data_path: Path,
    shard_paths: list[Path],
    output: Path,
    *,
    probe_size: int | None,
    probe_seed: int,
    batch_size: int,
    device: str = "auto",
) -> ActivationDump:
    target = training.shards.resolve_device(device)
    model, payload = checkpoints.load(model_path, target)
    arch, info = payload["arch"], payload["info"]
    samples = training.load_samples(arch, data_path, shard_paths)
    rows = probe_rows(samples, probe_size, probe_seed)
    layers, logits = compute(model, samples.to(target), rows, batch_size, f"{info['dataset']}/{arch}/seed-{info['seed']}")
    for number, layer in enumerate(layers, start=1):
        if not np.isfinite(layer).all():
            raise DataError(f"{model_path}: representation layer {number} has non-finite values on the probe samples")
    probe = {"probe_size": probe_size, "probe_seed": probe_seed}
    result = ActivationDump(
        layers=layers,
        image_index=samples.image_index[rows].astype(np.int64),
        label=samples.labels[rows].numpy(),
        logits=logits,
        attrs={
            "dataset": info["dataset"],
            "arch": arch,
            "seed": info["seed"],
            "num_layers": len(layers),
            **probe,
            "model": str(model_path),
            "device": training.device_name(target),
            "config_hash": config_hash({**probe, "model_config_hash": info["config_hash"]}),
        },
    )
    write(output, result)
    return result
