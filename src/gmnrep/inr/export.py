"""The pipeline's INR shards written as an INR set in the `neural_graphs` layout, the one
ScaleGMN's Fashion-MNIST loader (jkalogero/scalegmn src/data/fmnist_inr_dataset.py) reads as it is
and neural-graphs' preprocess_fmnist.py turns into its loader's splits: how this pipeline's INRs
reach the reference metanetworks and any other weight-space tool.

`<folder>/splits.json` lists each split's files (`{"train"|"val"|"test": ["train/model_<i>.pth",
...]}`, paths relative to the folder); `<folder>/{train,test}/model_<i>.pth`, `i` the image's index
in the official training or test file, holds the INR's state dict (`seq.<layer>.weight` (out, in)
and `seq.<layer>.bias` float32 tensors, input side first, in that order: the references collect
weights and biases by iterating the dict) and its `label`, an int. The layout is exactly what
gmnrep.inr.standard_sets imports, so an export imports back bit for bit.

The folder appears whole or not at all: it is written under a temporary name beside it and renamed
when complete.
"""

import json
import os
import secrets
import shutil
from pathlib import Path

import torch

from gmnrep.core.errors import DataError
from gmnrep.data import splits
from gmnrep.inr import shards
from gmnrep.inr.standard_sets import SPLIT_OF_CODE, state_keys

LAYOUT = "neural_graphs"
SPLITS_FILE = "splits.json"


def member_file(image_index: int, num_official_train: int) -> str:
    """The file of the INR of a dataset file's image (official training images, then test images),
    relative to the set's folder."""
    if image_index < num_official_train:
        return f"train/model_{image_index}.pth"
    return f"test/model_{image_index - num_official_train}.pth"


def _refuse_occupied(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DataError(f"{output}: exists and is not an empty folder; the export writes a new one (name another)")


def _write_shard(shard_path: Path, shard: shards.Shard, folder: Path, num_official_train: int, listing: dict) -> None:
    """Write the shard's INRs into `folder`, adding each file to its split's in `listing` (by image)."""
    keys = state_keys(LAYOUT, len(shard.weights))
    for row, image_index in enumerate(shard.image_index.tolist()):
        if image_index < 0:
            raise DataError(f"{shard_path}: image index {image_index} is negative")
        name = member_file(image_index, num_official_train)
        path = folder / name
        if path.exists():
            raise DataError(f"{shard_path}: a second INR of image {image_index} (its file {name} is already written)")
        split = SPLIT_OF_CODE.get(int(shard.split[row]))
        if split is None:
            raise DataError(
                f"{shard_path}: image {image_index} has split code {shard.split[row]}, not one of {SPLIT_OF_CODE}"
            )
        state = {}
        for (w_key, b_key), (w, b) in zip(keys, shard.weights):
            # torch.tensor copies: a view of the stacked array would save the whole shard's storage
            state[w_key], state[b_key] = torch.tensor(w[row]), torch.tensor(b[row])
        state["label"] = int(shard.label[row])
        torch.save(state, path)
        listing[split][image_index] = name


def _check_complete(numbers: dict[int, Path], totals: dict[int, Path]) -> None:
    """The shards read, by their attrs `shard` and `num_shards`, are one whole set."""
    if len(totals) > 1:
        (a, path_a), (b, path_b) = list(totals.items())[:2]
        raise DataError(f"{path_a} is one of {a} shards but {path_b} one of {b}: they are not one set")
    (total, path), *_ = totals.items()
    beyond = sorted(set(numbers) - set(range(total)))
    if beyond:
        raise DataError(f"{numbers[beyond[0]]}: shard {beyond[0]}, but the set has shards 0..{total - 1}")
    missing = sorted(set(range(total)) - set(numbers))
    if missing:
        raise DataError(f"{path}: one of {total} shards, but shard {missing[0]} of the set is not among those given")


def export_neural_graphs(shard_paths: list[Path], output: Path, num_official_train: int) -> dict[str, int]:
    """Write the INRs of `shard_paths`, one whole set of a dataset's shards, as an INR set in the
    `neural_graphs` layout in the new folder `output` (`num_official_train`: the dataset's official
    training images, which its test images follow in the dataset file); return the INRs per split.
    DataError naming the folder when `output` is occupied, or the shard when the shards are not one
    set (a shard missing or repeated, another architecture, two INRs of one image)."""
    output = Path(output)
    if not shard_paths:
        raise DataError(f"{output}: no shards to export")
    _refuse_occupied(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # an export killed by SIGKILL could not remove its temporary folder: the next export to `output` does
    for stale in output.parent.glob(f".{output.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = output.parent / f".{output.name}.{secrets.token_hex(4)}.tmp"
    folder.mkdir()
    try:
        for kind in ("train", "test"):
            (folder / kind).mkdir()
        listing = {name: {} for name in splits.SPLIT_NAMES}
        numbers, totals, first = {}, {}, None
        for path in shard_paths:
            shard = shards.read(path)
            try:
                number, total = int(shard.attrs["shard"]), int(shard.attrs["num_shards"])
            except KeyError as exc:
                raise DataError(f"{path}: attribute {exc} is missing; not a shard the pipeline wrote") from None
            if number in numbers:
                raise DataError(f"{path}: shard {number} of the set again, beside {numbers[number]}")
            numbers[number] = path
            totals.setdefault(total, path)
            first = first or (path, shard.attrs["layer_sizes"])
            if shard.attrs["layer_sizes"] != first[1]:
                raise DataError(f"{path}: layer sizes {shard.attrs['layer_sizes']}, but {first[0]} has {first[1]}")
            _write_shard(path, shard, folder, num_official_train, listing)
        _check_complete(numbers, totals)
        by_image = {name: [files[i] for i in sorted(files)] for name, files in listing.items()}
        (folder / SPLITS_FILE).write_text(json.dumps(by_image))
        _refuse_occupied(output)
        os.rename(folder, output)  # onto an empty folder, or none; refused by the OS if one appeared since
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {name: len(files) for name, files in by_image.items()}
