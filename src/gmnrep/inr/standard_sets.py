"""The field's own INRs: the standard pre-fitted INR sets, imported as the pipeline's shards.

Metanetwork papers classify INR sets their authors fitted once and shared as archives. A dataset
named in `inr.imported` takes its INRs from such an archive, unpacked into a folder the user names,
instead of fitting them; everything downstream reads the same shards as for fitted INRs. Three
layouts, read as their reference code reads them:

- `dwsnets` (AvivNavon/DWSNets experiments/mnist/generate_data_splits.py; the MNIST INRs):
  `<folder>/mnist_png_{training|testing}_<label>_<id>/checkpoints/model_final.pth`, a state dict
  `seq.0.weight` (32, 2), `seq.0.bias`, `seq.1.*`, `seq.2.*`; the label and the image (`id`: its
  index in the official training or test file) from the folder's name. DWSNets draws its
  validation INRs from the training ones without a seed: here they are drawn with
  `data.split_seed`, or read from a splits JSON in DWSNets' format (`{"val": {"path": [...]}}`;
  neural-graphs commits one) given as the entry's `splits`.
- `neural_graphs` (mkofinas/neural-graphs experiments/inr_classification/dataset/preprocess_fmnist.py,
  ScaleGMN's Fashion-MNIST dataset): `<folder>/splits.json` (`{"train"|"val"|"test": [paths]}`, of
  which the last two parts are read) and `<folder>/{train,test}/model_<i>.pth`, `i` the image's
  official index; each file holds the `seq.*` state dict and an int `label`.
- `nfn` (AllanYangZhou/nfn experiments/data_utils.py SirenDataset): `<folder>/randinit_smaller_<label>s/
  net<idx>.pth`, state dicts `net.0.linear.*`, `net.1.linear.*`, `net.2.*` (NFN's Siren module);
  `idx` lines up with the official training images followed by the test images, and splits by
  index (train below `split_sizes.train`, then val, then test). NFN's augmented copies
  (`randinit_smaller_aug<k>_<label>s/`, which NFN's own glob also matches) are not read.

Every weight is a `torch.nn.Linear` weight (out, in), the pipeline's orientation. One job per
dataset checks the archive (check_archive): the listing (counts per split, one INR per image),
then every file of the selected INRs, read with `torch.load(weights_only=True)` (its architecture,
finite values, its label against the raw dataset's), and writes the manifest of those files with
their sha256. Only then do the shard jobs (import_shard) write the shards, each reading its files
again and refusing one whose bytes changed since. The PSNR of each INR is recomputed against its
raw image with the set's recipe; the steps it was fitted for are unknown (UNKNOWN_STEPS).
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import sha256_file
from gmnrep.data import dataset_file, splits
from gmnrep.inr import siren
from gmnrep.inr.planning import shard_members, shards_needed
from gmnrep.inr.shards import Shard, write
from gmnrep.inr.siren import SirenRecipe

UNKNOWN_STEPS = -1  # an imported INR's steps: its fit is not part of the archive
PSNR_BATCH = 512  # INRs evaluated at once when their PSNR is recomputed
MANIFEST_COLUMNS = ("file", "sha256", "image_index", "split", "label")
SPLIT_OF_CODE = {code: name for name, code in splits.SPLIT_NAMES.items()}


@dataclass(frozen=True)
class Member:
    """One INR of an archive: its file, the image it was fitted to (a row of the dataset file:
    official training images, then test images), its split, and its label where the file's name
    gives it (None: the file holds it)."""

    path: Path
    image_index: int
    split: int
    label: int | None


def _matching(folder: Path, pattern: str, paths) -> list[tuple[Path, re.Match]]:
    """Each path with its match of `pattern` (on its path relative to `folder`); DataError naming
    the first path that does not match."""
    matched = []
    for path in sorted(paths):
        match = re.fullmatch(pattern, path.relative_to(folder).as_posix())
        if match is None:
            raise DataError(f"{path}: not a file of this INR set's layout (expected a path like {pattern})")
        matched.append((path, match))
    return matched


def _dwsnets_members(folder: Path, num_train: int, split_sizes: dict, split_seed: int, splits_file) -> list[Member]:
    pattern = r"mnist_png_(training|testing)_(\d)_(\d+)/checkpoints/model_final\.pth"
    members = [
        Member(
            path,
            int(m[3]) + (0 if m[1] == "training" else num_train),
            splits.TRAIN if m[1] == "training" else splits.TEST,
            int(m[2]),
        )
        for path, m in _matching(folder, pattern, folder.glob("mnist_png_*/checkpoints/*.pth"))
    ]
    pool = [i for i, m in enumerate(members) if m.split == splits.TRAIN]
    if splits_file is None:
        size = min(split_sizes["val"], len(pool))
        validation = set(np.random.default_rng(split_seed).choice(pool, size=size, replace=False).tolist())
    else:
        names = {m.path.parent.parent.name: i for i, m in enumerate(members)}
        try:
            listed = json.loads(Path(splits_file).read_text())["val"]["path"]
            validation = {names[Path(p).parent.parent.name] for p in listed}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{splits_file}: not a DWSNets splits file whose val paths are in {folder} ({exc!r})"
            ) from None
    return [Member(m.path, m.image_index, splits.VAL, m.label) if i in validation else m for i, m in enumerate(members)]


def _neural_graphs_members(folder: Path, num_train: int) -> list[Member]:
    listing = folder / "splits.json"
    try:
        by_split = json.loads(listing.read_text())
        named = {name: [Path(*Path(p).parts[-2:]) for p in by_split[name]] for name in splits.SPLIT_NAMES}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{listing}: not the set's splits file ({{'train'|'val'|'test': [paths]}}; {exc!r})") from None
    members = []
    for name, paths in named.items():
        for path, m in _matching(folder, r"(train|test)/model_(\d+)\.pth", [folder / p for p in paths]):
            if not path.is_file():
                raise DataError(f"{listing}: lists {path}, which is missing")
            members.append(
                Member(path, int(m[2]) + (0 if m[1] == "train" else num_train), splits.SPLIT_NAMES[name], None)
            )
    return members


def _nfn_members(folder: Path, split_sizes: dict) -> list[Member]:
    files = [
        p
        for p in folder.glob("randinit_smaller_*/*")
        if not re.fullmatch(r"randinit_smaller_aug\d+_\ds", p.parent.name)
    ]
    members = []
    train_end = split_sizes["train"]
    val_end = train_end + split_sizes["val"]
    for path, m in _matching(folder, r"randinit_smaller_(\d)s/net(\d+)\.pth", files):
        index = int(m[2])
        split = splits.TRAIN if index < train_end else splits.VAL if index < val_end else splits.TEST
        members.append(Member(path, index, split, int(m[1])))
    indices = sorted(m.image_index for m in members)
    gaps = sorted(set(range(len(indices))) - set(indices))
    if gaps and len(set(indices)) == len(indices):
        raise DataError(f"{folder}: NFN numbers its INRs 0..N-1, and net{gaps[0]}.pth is missing")
    return members


def list_members(
    layout: str, folder: Path, split_sizes: dict, num_official_train: int, split_seed: int, splits_file=None
) -> list[Member]:
    """The archive's INRs, by image; DataError naming the folder or file when the archive is not a
    complete copy of the set (another layout, a count per split other than `split_sizes`, two INRs
    of one image)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (inr.imported names where the INR set's archive is unpacked)")
    if layout == "dwsnets":
        members = _dwsnets_members(folder, num_official_train, split_sizes, split_seed, splits_file)
    elif layout == "neural_graphs":
        members = _neural_graphs_members(folder, num_official_train)
    elif layout == "nfn":
        members = _nfn_members(folder, split_sizes)
    else:
        raise ValueError(f"unknown INR set layout {layout!r}")
    by_image = {}
    for member in members:
        if member.image_index in by_image:
            raise DataError(
                f"{member.path}: a second INR of image {member.image_index}, beside {by_image[member.image_index].path}"
            )
        by_image[member.image_index] = member
    for name, code in splits.SPLIT_NAMES.items():
        found = sum(m.split == code for m in members)
        if found != split_sizes[name]:
            raise DataError(f"{folder}: {found} {name} INRs, where the set has {split_sizes[name]}")
    return sorted(members, key=lambda m: m.image_index)


def state_keys(layout: str, layers: int) -> list[tuple[str, str]]:
    """(weight key, bias key) of each layer, input side first, as the layout's module names them."""
    if layout == "nfn":  # sine layers wrap their nn.Linear as `.linear`; the last layer is a plain nn.Linear
        names = [f"net.{i}.linear" for i in range(layers - 1)] + [f"net.{layers - 1}"]
    else:
        names = [f"seq.{i}" for i in range(layers)]
    return [(f"{name}.weight", f"{name}.bias") for name in names]


def read_member(member: Member, layout: str, layer_sizes: list[int]) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """The INR's weights ((out, in), (out,)) per layer and its label; DataError naming the file when
    it is unreadable, of another architecture, not finite, or has no label."""
    path = member.path
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for a file that is not a checkpoint
        raise DataError(f"{path}: not a readable state dict ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: holds a {type(state).__name__}, not a state dict")
    keys = state_keys(layout, len(layer_sizes) - 1)
    expected = {key for pair in keys for key in pair} | ({"label"} if layout == "neural_graphs" else set())
    if set(state) != expected:
        raise DataError(f"{path}: keys {sorted(state)}, where a SIREN {layer_sizes} of this set has {sorted(expected)}")
    weights = []
    for (w_key, b_key), fan_in, fan_out in zip(keys, layer_sizes[:-1], layer_sizes[1:]):
        w, b = (state[key].detach().to(torch.float32).numpy() for key in (w_key, b_key))
        if w.shape != (fan_out, fan_in) or b.shape != (fan_out,):
            raise DataError(
                f"{path}: {w_key} {tuple(w.shape)} and {b_key} {tuple(b.shape)}, where a SIREN {layer_sizes} has "
                f"{(fan_out, fan_in)} and {(fan_out,)}"
            )
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise DataError(f"{path}: {w_key} or {b_key} holds a value that is not finite")
        weights.append((w, b))
    label = member.label
    if label is None:
        stored = state["label"]
        label = int(stored.item() if isinstance(stored, torch.Tensor) else stored)
    return weights, label


@torch.no_grad()
def recomputed_psnr(
    weights: list[tuple[np.ndarray, np.ndarray]], images: np.ndarray, recipe: SirenRecipe
) -> np.ndarray:
    """PSNR (dB) of each INR (weights stacked over INRs) against its image, as the fitter measures it."""
    height, width = images.shape[1:3]
    coords = siren.coordinate_grid(height, width, order=recipe.coordinates)
    values = []
    for start in range(0, len(images), PSNR_BATCH):
        params = [
            (torch.from_numpy(w[start : start + PSNR_BATCH]), torch.from_numpy(b[start : start + PSNR_BATCH]))
            for w, b in weights
        ]
        outputs = siren.forward(params, coords, recipe)
        targets = siren.image_targets(images[start : start + PSNR_BATCH], recipe)
        values.append(siren.psnr(outputs, targets, recipe.data_range).double().numpy())
    return np.concatenate(values)


def check_archive(
    layout: str,
    folder: Path,
    split_sizes: dict,
    recipe: dict,
    num_official_train: int,
    data_path: Path,
    manifest_path: Path,
    subset: dict | None,
    subset_seed: int,
    split_seed: int,
    splits_file: Path | None = None,
) -> None:
    """Check the archive in `folder` and write the manifest of the INRs to import: the selected
    ones (`inr.subset` of each split, drawn as for fitted INRs; `num_official_train`: the dataset's
    official training images, which its test images follow in the dataset file), by image, each
    file with its sha256, image, split and label. Every selected file is read and checked here, so
    that no shard is written from an archive with a bad file."""
    data, _ = dataset_file.read(data_path)
    members = list_members(layout, folder, split_sizes, num_official_train, split_seed, splits_file)
    split = np.array([m.split for m in members], dtype=np.uint8)
    chosen = [members[i] for i in splits.select_subset(split, subset, subset_seed)]
    beyond = [m for m in chosen if m.image_index >= len(data)]
    if beyond:
        raise DataError(f"{beyond[0].path}: an INR of image {beyond[0].image_index}, but {data_path} has {len(data)}")
    sizes = SirenRecipe.from_config(recipe).layer_sizes(data.channels)
    rows = []
    for member in tqdm(chosen, desc=f"{Path(folder).name}: checking", unit="INR"):
        _, label = read_member(member, layout, sizes)
        if label != data.labels[member.image_index]:
            raise DataError(
                f"{member.path}: label {label}, but image {member.image_index} of {data_path} is a "
                f"{data.labels[member.image_index]}"
            )
        rows.append(
            {
                "file": member.path.relative_to(folder).as_posix(),
                "sha256": sha256_file(member.path),
                "image_index": member.image_index,
                "split": SPLIT_OF_CODE[member.split],
                "label": label,
            }
        )
    write_texts({Path(manifest_path): to_csv(rows, MANIFEST_COLUMNS)})


def read_manifest(path: Path) -> list[dict]:
    rows = read_csv(Path(path), MANIFEST_COLUMNS, "manifest of imported INRs")
    try:
        return [
            {
                **r,
                "image_index": int(r["image_index"]),
                "split": splits.SPLIT_NAMES[r["split"]],
                "label": int(r["label"]),
            }
            for r in rows
        ]
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: a row is not an image, split and label ({exc!r})") from None


def import_shard(
    set_name: str,
    layout: str,
    folder: Path,
    recipe: dict,
    data_path: Path,
    manifest_path: Path,
    shard: int,
    shard_size: int,
    num_shards: int,
    shard_path: Path,
) -> Shard:
    """Write shard `shard` of the INRs in the manifest (`shard_size` of them, in its order, as the
    fitter plans shards): their weights, image, split and label, and their PSNR recomputed against
    the raw image with the set's recipe. A file whose bytes changed since the manifest was written
    is refused."""
    siren_recipe = SirenRecipe.from_config(recipe)
    data, _ = dataset_file.read(data_path)
    manifest = read_manifest(manifest_path)
    if shards_needed(len(manifest), shard_size) != num_shards:
        raise DataError(
            f"{manifest_path}: its {len(manifest)} INRs make {shards_needed(len(manifest), shard_size)} shards "
            f"of {shard_size}, but the workflow planned {num_shards}; import the archive again"
        )
    rows = [manifest[i] for i in shard_members(np.arange(len(manifest)), shard, shard_size)]
    sizes = siren_recipe.layer_sizes(data.channels)
    layers = []
    for row in tqdm(rows, desc=f"{shard_path.name}: importing", unit="INR"):
        path = Path(folder) / row["file"]
        if sha256_file(path) != row["sha256"]:
            raise DataError(f"{path}: changed since {manifest_path} was written; import the archive again")
        member = Member(path, row["image_index"], row["split"], row["label"])
        layers.append(read_member(member, layout, sizes)[0])
    stacked = [tuple(np.stack([inr[l][k] for inr in layers]) for k in (0, 1)) for l in range(len(sizes) - 1)]
    image_index = np.array([row["image_index"] for row in rows], dtype=np.int64)
    result = Shard(
        weights=stacked,
        image_index=image_index,
        label=np.array([row["label"] for row in rows], dtype=data.labels.dtype),
        split=np.array([row["split"] for row in rows], dtype=np.uint8),
        psnr=recomputed_psnr(stacked, data.images[image_index], siren_recipe),
        steps=np.full(len(rows), UNKNOWN_STEPS, dtype=np.int64),
        attrs={
            **siren_recipe.as_attrs(),
            "layer_sizes": sizes,
            "standard_set": set_name,
            "archive": str(Path(folder).resolve()),
            "source": str(data_path),
            "shard": shard,
            "num_shards": num_shards,
        },
    )
    write(shard_path, result)
    return result
