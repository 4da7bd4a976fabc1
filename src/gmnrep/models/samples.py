"""The samples a model sees: the INRs of a dataset's shards or, for a network on images, the images
those INRs were fitted to (found through each INR's image_index), with the INRs' train / val / test
split. Training reads them whole (`load_samples`); an activation dump chooses its probe samples
from the shards' labels, splits and image indices alone (`index_shards`) and reads their inputs a
shard at a time (`ShardStream`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5
from gmnrep.data import dataset_file
from gmnrep.data.splits import SPLIT_NAMES
from gmnrep.inr import shards
from gmnrep.models import registry
from gmnrep.models.architectures import WEIGHTS
from gmnrep.models.param_graph import Weights

Inputs = torch.Tensor | Weights  # images (n, H, W[, C]) uint8, or a weight stack
LEFT_OUT = 255  # the split of a training sample that a training on a subset does not see


def take_inputs(inputs: Inputs, rows: torch.Tensor) -> Inputs:
    if isinstance(inputs, torch.Tensor):
        return inputs[rows]
    return [(w[rows], b[rows]) for w, b in inputs]


def inputs_to(inputs: Inputs, device: torch.device) -> Inputs:
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    return [(w.to(device), b.to(device)) for w, b in inputs]


def concatenate_inputs(parts: list[Inputs]) -> Inputs:
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    layers = range(len(parts[0]))
    return [(torch.cat([p[i][0] for p in parts]), torch.cat([p[i][1] for p in parts])) for i in layers]


@dataclass
class Samples:
    inputs: Inputs
    labels: torch.Tensor  # (n,) int64
    split: np.ndarray  # (n,) 0 train, 1 val, 2 test
    image_index: np.ndarray  # (n,) row of each sample's image in the dataset file

    def take(self, rows: torch.Tensor) -> Inputs:
        return take_inputs(self.inputs, rows)

    def to(self, device: torch.device) -> "Samples":
        return Samples(inputs_to(self.inputs, device), self.labels.to(device), self.split, self.image_index)

    def with_training_subset(self, size: int, seed: int) -> "Samples":
        """The same samples with only `size` training samples: the first of a permutation of them
        drawn with `seed`, so that the subsets of one seed are nested. The others are LEFT_OUT."""
        train_rows = np.flatnonzero(self.split == SPLIT_NAMES["train"])
        if not 1 <= size <= len(train_rows):
            raise ValueError(f"a training subset of {size} samples out of {len(train_rows)}")
        left_out = np.random.default_rng(seed).permutation(train_rows)[size:]
        split = self.split.copy()
        split[left_out] = LEFT_OUT
        return Samples(self.inputs, self.labels, split, self.image_index)


@dataclass
class ShardIndex:
    """The samples of a list of shards without their inputs: enough to choose samples before reading
    any weights, and to find each sample's shard (rows starts[k]:starts[k+1] are shard k's)."""

    paths: list[Path]
    starts: np.ndarray  # (len(paths) + 1,)
    labels: np.ndarray  # (n,) int64
    split: np.ndarray
    image_index: np.ndarray


def index_shards(data_path: Path, shard_paths: list[Path]) -> ShardIndex:
    """The labels, splits and image indices of `shard_paths`, refusing shards of different SIRENs."""
    if not shard_paths:
        raise DataError(f"no INR shards given for {data_path}")
    metadata = [read_h5(p, ("image_index", "label", "split")) for p in shard_paths]
    # shards.read holds every shard's weights to its layer_sizes, so the attribute stands for the shapes.
    if len({tuple(shards.layer_sizes(p, attrs)) for p, (_, attrs) in zip(shard_paths, metadata)}) > 1:
        raise DataError(f"shards {', '.join(map(str, shard_paths))} hold SIRENs of different architectures")
    arrays = [a for a, _ in metadata]
    return ShardIndex(
        paths=list(shard_paths),
        starts=np.cumsum([0, *(len(a["image_index"]) for a in arrays)]),
        labels=np.concatenate([a["label"] for a in arrays]).astype(np.int64),
        split=np.concatenate([a["split"] for a in arrays]),
        image_index=np.concatenate([a["image_index"] for a in arrays]),
    )


def read_images(arch: str, data_path: Path, index: ShardIndex) -> np.ndarray | None:
    """The images of the dataset file that `index` refers to (None for an architecture that sees weights)."""
    if registry.get(arch).inputs == WEIGHTS:
        return None
    data, _ = dataset_file.read(data_path)
    if index.image_index.max(initial=-1) >= len(data):
        raise DataError(f"{data_path}: has {len(data)} images, but the shards refer to image {index.image_index.max()}")
    if not np.array_equal(data.labels[index.image_index], index.labels):
        raise DataError(f"{data_path}: labels differ from those recorded in the shards; rebuild the shards")
    return data.images


def shard_inputs(path: Path, images: np.ndarray | None) -> Inputs:
    """The inputs of one shard's samples: its weights, or with `images` (see read_images) their images.
    The whole shard is read either way, so a damaged one is refused for every architecture."""
    part = shards.read(path)
    if images is None:
        return [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in part.weights]
    return torch.from_numpy(images[part.image_index])


def load_samples(arch: str, data_path: Path, shard_paths: list[Path]) -> Samples:
    """The INRs of `shard_paths`, or their images in `data_path`: what `arch` sees."""
    index = index_shards(data_path, shard_paths)
    images = read_images(arch, data_path, index)
    inputs = concatenate_inputs([shard_inputs(p, images) for p in shard_paths])
    return Samples(inputs, torch.from_numpy(index.labels), index.split, index.image_index)


class ShardStream:
    """The inputs of the samples of `index`, read a shard at a time: only the shard read last is kept.
    Since shards are cut from the images in image order, rows taken in image order read each shard once."""

    def __init__(self, index: ShardIndex, images: np.ndarray | None, device: torch.device):
        self.index, self.images, self.device = index, images, device
        self._shard, self._inputs = None, None

    def take(self, rows: torch.Tensor) -> Inputs:
        rows = rows.numpy()
        shard = np.searchsorted(self.index.starts, rows, side="right") - 1
        runs = np.split(np.arange(len(rows)), np.flatnonzero(np.diff(shard)) + 1)
        pieces = [self._take_from(shard[run[0]], rows[run]) for run in runs]
        return inputs_to(concatenate_inputs(pieces), self.device)

    def _take_from(self, shard: int, rows: np.ndarray) -> Inputs:
        if shard != self._shard:
            self._inputs = None  # freed before the next shard is read, so two are never held at once
            self._inputs = shard_inputs(self.index.paths[shard], self.images)
            self._shard = shard
        return take_inputs(self._inputs, torch.from_numpy(rows - self.index.starts[shard]))


def input_shape(inputs: Inputs) -> tuple[int, ...]:
    """What a model's constructor needs of its inputs: a SIREN's layer sizes, or one image's shape."""
    if isinstance(inputs, torch.Tensor):
        return tuple(inputs.shape[1:])
    return (inputs[0][0].shape[2], *(w.shape[1] for w, _ in inputs))
