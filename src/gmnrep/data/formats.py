"""Readers for the raw formats: IDX (MNIST, Fashion-MNIST), CIFAR-10's python pickles, and
scikit-learn's bundled digits. Each returns uint8 images and int64 labels, or raises a
DataError naming the file and what is wrong with it."""

import gzip
import pickle
import tarfile
import zlib
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError

_IDX_UBYTE = 0x08


def read_idx(path: Path, member_name: str | None = None) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (magic 0x0000 08 nd, big-endian int32 dims)."""
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be decompressed ({exc}); the file is truncated or not gzip") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header announces {ndim} dimensions but the file ends after {len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(f"{path}: IDX header announces shape {shape} ({expected} bytes) but holds {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path, image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != image_hw:
        raise DataError(f"{images_path}: images have shape {images.shape}, expected (N, {image_hw[0]}, {image_hw[1]})")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_path}: {labels.shape} labels for {len(images)} images in {images_path}")
    return images, labels.astype(np.int64)


# What the official CIFAR-10 python batches need to be rebuilt: numpy arrays (reconstruct, ndarray,
# dtype; numpy 2 writes numpy._core) and, in pickles written by Python 3 at protocol 2, bytes
# (_codecs.encode). Everything else a pickle may name (os.system, builtins.open, ...) is refused.
CIFAR_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, bytes, str, numbers and numpy arrays."""

    def __init__(self, stream, where: str):
        super().__init__(stream, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str):
        if (module, name) not in CIFAR_PICKLE_GLOBALS:
            raise DataError(
                f"{self.where}: the pickle asks for {module}.{name}, which a CIFAR-10 batch never holds; "
                f"refused without running it"
            )
        return super().find_class(module, name)


def read_cifar_batches(archive_path: Path, members: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate CIFAR-10 python batches from the tar.gz, in the order given, as (N,32,32,3)."""
    images, labels = [], []
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            for member in members:
                try:
                    stream = archive.extractfile(member)
                except KeyError:
                    raise DataError(f"{archive_path}: member {member} is missing") from None
                if stream is None:
                    raise DataError(f"{archive_path}: member {member} is not a file")
                batch = _CifarUnpickler(stream, f"{archive_path}:{member}").load()
                if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
                    raise DataError(f"{archive_path}:{member}: not a CIFAR-10 batch (a dict with data and labels)")
                data = np.asarray(batch[b"data"], dtype=np.uint8)
                if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                    raise DataError(f"{archive_path}:{member}: data has shape {data.shape}, expected (N, 3072)")
                images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
                if len(labels[-1]) != len(images[-1]):
                    raise DataError(f"{archive_path}:{member}: {len(labels[-1])} labels for {len(images[-1])} images")
    except (EOFError, OSError, tarfile.TarError, zlib.error, pickle.UnpicklingError, KeyError) as exc:
        raise DataError(f"{archive_path}: cannot be read as CIFAR-10 python batches ({exc})") from None
    except (ValueError, TypeError, OverflowError) as exc:  # data or labels that are not bytes / integers
        raise DataError(f"{archive_path}: a batch holds data or labels that are not integers ({exc})") from None
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def digits_source_file() -> Path:
    """The CSV that scikit-learn's load_digits reads; recorded as the digits' raw source. Found
    without importing scikit-learn: every Snakemake start asks for it (the digits' raw input), and
    the import took 1.5-2 s of each one."""
    package = find_spec("sklearn")
    if package is None or not package.submodule_search_locations:
        raise DataError("scikit-learn is not installed: its bundled digits CSV is the digits dataset's raw file")
    return Path(package.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


def read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (pixel values 0..16) rescaled to uint8 0..255 by round(v * 255 / 16)."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read as scikit-learn's digits CSV ({exc})") from None
    if table.ndim != 2 or table.shape[1] != 65:
        raise DataError(f"{path}: expected rows of 64 pixels and a label, got shape {table.shape}")
    pixels = table[:, :64]
    if pixels.min() < 0 or pixels.max() > 16:
        raise DataError(f"{path}: pixel values outside 0..16")
    labels = table[:, 64]
    if not np.array_equal(labels, np.rint(labels)):  # astype would silently truncate 3.5 to class 3
        raise DataError(f"{path}: labels (last column) must be whole numbers")
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 8, 8)
    return images, labels.astype(np.int64)
