"""results/data/{dataset}.h5: every image of a dataset with its label and split.

Contract (docs/design.md, Data contracts): `images` (N,H,W[,C]) uint8, `labels` (N,) int64, `split` (N,) uint8
(0 train, 1 val, 2 test); attrs record the source files with their checksums.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5, write_h5
from gmnrep.core.hashing import config_hash, sha256_file
from gmnrep.data import formats, splits
from gmnrep.data.fetch import verify
from gmnrep.data.sources import CIFAR_DIR, CIFAR_MEMBERS, DatasetSource, source


@dataclass
class LabelledImages:
    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def channels(self) -> int:
        """Colour channels of the images: (n, H, W) are grey, (n, H, W, C) have C."""
        return self.images.shape[3] if self.images.ndim == 4 else 1


def raw_paths(source: DatasetSource, raw_dir: Path) -> list[Path]:
    """The raw files a dataset is built from (for digits, scikit-learn's bundled CSV)."""
    if source.name == "digits":
        return [formats.digits_source_file()]
    return [Path(raw_dir) / raw.name for raw in source.files]


def _read_raw(source: DatasetSource, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    if source.name == "digits":
        return formats.read_digits(paths[0])
    if source.name == "cifar10":
        return formats.read_cifar_batches(paths[0], tuple(f"{CIFAR_DIR}/{m}" for m in CIFAR_MEMBERS))
    train = formats.read_idx_pair(paths[0], paths[1], source.image_shape)
    test = formats.read_idx_pair(paths[2], paths[3], source.image_shape)
    return np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])


def build(source: DatasetSource, paths: list[Path], validation_size: int, test_size: int, seed: int) -> LabelledImages:
    """Verify the raw files, read them, check them against the dataset's known shape, assign splits."""
    for raw, path in zip(source.files, paths):
        verify(path, raw)
    images, labels = _read_raw(source, paths)
    where = ", ".join(str(p) for p in paths)
    if images.shape != (source.num_images, *source.image_shape):
        raise DataError(
            f"{where}: images have shape {images.shape}, expected {(source.num_images, *source.image_shape)}"
        )
    if labels.min() < 0 or labels.max() >= source.num_classes:
        raise DataError(f"{where}: labels span {labels.min()}..{labels.max()}, expected 0..{source.num_classes - 1}")
    split = splits.assign_splits(source.num_official_train, source.num_official_test, validation_size, test_size, seed)
    return LabelledImages(images, labels, split)


def write(path: Path, data: LabelledImages, attrs: dict) -> None:
    write_h5(path, {"images": data.images, "labels": data.labels, "split": data.split}, attrs)


def read(path: Path) -> tuple[LabelledImages, dict]:
    arrays, attrs = read_h5(path, ("images", "labels", "split"))
    n = len(arrays["labels"])
    if len(arrays["images"]) != n or len(arrays["split"]) != n:
        raise DataError(f"{path}: images, labels and split differ in length")
    return LabelledImages(arrays["images"], arrays["labels"], arrays["split"]), attrs


def _file_record(path: Path) -> dict:
    """The file's name, not its path: the same raw files give the same dataset file wherever they lie."""
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def prepare(
    raw: list[Path], output: Path, dataset: str, validation_size: int, test_size: int, seed: int
) -> LabelledImages:
    """Build results/data/{dataset}.h5 from its raw files (verified first) and record where it came from."""
    spec = source(dataset)
    data = build(spec, raw, validation_size, test_size, seed)
    settings = {"dataset": dataset, "validation_size": validation_size, "test_size": test_size, "seed": seed}
    counts = {name: int((data.split == code).sum()) for name, code in splits.SPLIT_NAMES.items()}
    write(
        output,
        data,
        {
            "dataset": dataset,
            "title": spec.title,
            "num_classes": spec.num_classes,
            "split_seed": seed,
            "split_counts": counts,
            "source_files": [_file_record(p) for p in raw],
            "source_content_md5": {m: md5 for r in spec.files for m, md5 in r.content_md5.items()},
            "config_hash": config_hash(settings),
        },
    )
    return data
