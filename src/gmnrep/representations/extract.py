"""Activation dumps: computing every representation layer of a trained model on a dataset's probe
samples (the file itself: `activation_dump`).

The probe samples are the test INRs of the dataset's shards (for image networks, their images),
or a seeded subset of them, in increasing image index. They depend only on the shards and the
probe settings, never on the model, so every dump of a dataset lists the same samples in the same
order and CKA can compare any two dumps row by row. They are chosen from the shards' labels, splits
and image indices alone, and their inputs are then read one shard at a time (`ShardStream`), so a
dump never holds a whole dataset's INR weights.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gmnrep.core.device import resolve_device
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import config_hash
from gmnrep.data.splits import TEST
from gmnrep.models import checkpoints, training
from gmnrep.models.samples import Samples, ShardIndex, ShardStream, index_shards, read_images
from gmnrep.representations.dump_file import ActivationDump, write


def probe_rows(samples: Samples | ShardIndex, probe_size: int | None, probe_seed: int) -> np.ndarray:
    """Rows of `samples` to probe: all test samples, or `probe_size` of them drawn with `probe_seed`,
    ordered by image index."""
    test = np.flatnonzero(samples.split == TEST)
    if len(test) == 0:
        raise DataError("the shards hold no test samples to probe")
    if probe_size is not None and probe_size < len(test):
        test = np.random.default_rng(probe_seed).choice(test, size=probe_size, replace=False)
    return test[np.argsort(samples.image_index[test], kind="stable")]


@torch.no_grad()
def compute(model: torch.nn.Module, samples: Samples | ShardStream, rows: np.ndarray, batch_size: int, name: str):
    """Logits and every representation layer of `model` on `rows`, as float32 numpy arrays."""
    model.eval()
    layers, logits = None, []
    for start in tqdm(range(0, len(rows), batch_size), desc=name, unit="batch"):
        out, reps = model.representations(samples.take(torch.from_numpy(rows[start : start + batch_size])))
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
    target = resolve_device(device)
    model, payload = checkpoints.load(model_path, target)
    arch, info = payload["arch"], payload["info"]
    index = index_shards(data_path, shard_paths)
    stream = ShardStream(index, read_images(arch, data_path, index), target)
    rows = probe_rows(index, probe_size, probe_seed)
    layers, logits = compute(model, stream, rows, batch_size, f"{info['dataset']}/{arch}/seed-{info['seed']}")
    for number, layer in enumerate(layers, start=1):
        if not np.isfinite(layer).all():
            raise DataError(f"{model_path}: representation layer {number} has non-finite values on the probe samples")
    probe = {"probe_size": probe_size, "probe_seed": probe_seed}
    result = ActivationDump(
        layers=layers,
        image_index=index.image_index[rows].astype(np.int64),
        label=index.labels[rows],
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
