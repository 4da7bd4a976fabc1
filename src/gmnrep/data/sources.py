"""Where each raw dataset comes from and how its files are recognised.

Checksums are md5 digests of the *decompressed* content of each file: Debian's
dataset-fashion-mnist package ships recompressed .gz files whose compressed bytes differ
from the originals while their content is identical, and that copy must be accepted.
URLs are the ones torchvision downloads from.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RawFile:
    name: str  # file name under resources/raw/{dataset}/
    content_md5: dict[str, str]  # decompressed member name -> md5 of its bytes
    urls: tuple[str, ...]  # mirrors, tried in order


@dataclass(frozen=True)
class DatasetSource:
    name: str
    title: str
    files: tuple[RawFile, ...]
    image_shape: tuple[int, ...]  # (H, W) or (H, W, C)
    num_classes: int
    num_official_train: int
    num_official_test: int
    system_dirs: tuple[Path, ...] = ()  # local copies looked for before any download

    @property
    def num_images(self) -> int:
        return self.num_official_train + self.num_official_test

    @property
    def channels(self) -> int:
        return self.image_shape[2] if len(self.image_shape) == 3 else 1


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_MEMBERS = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
CIFAR_DIR = "cifar-10-batches-py"


def _idx_files(md5s: tuple[str, ...], mirrors: tuple[str, ...]) -> tuple[RawFile, ...]:
    return tuple(
        RawFile(f"{stem}.gz", {stem: md5}, tuple(m + f"{stem}.gz" for m in mirrors))
        for stem, md5 in zip(IDX_FILES, md5s)
    )


SOURCES: dict[str, DatasetSource] = {
    "mnist": DatasetSource(
        name="mnist",
        title="MNIST",
        files=_idx_files(
            (
                "6bbc9ace898e44ae57da46a324031adb",
                "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea",
                "27ae3e4e09519cfbb04c329615203637",
            ),
            _MNIST_MIRRORS,
        ),
        image_shape=(28, 28),
        num_classes=10,
        num_official_train=60000,
        num_official_test=10000,
    ),
    "fashion_mnist": DatasetSource(
        name="fashion_mnist",
        title="Fashion-MNIST",
        files=_idx_files(
            (
                "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "9018921c3c673c538a1fc5bad174d6f9",
                "8181f5470baa50b63fa0f6fddb340f0a",
                "15d484375f8d13e6eb1aabb0c3f46965",
            ),
            _FASHION_MIRRORS,
        ),
        image_shape=(28, 28),
        num_classes=10,
        num_official_train=60000,
        num_official_test=10000,
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    ),
    "cifar10": DatasetSource(
        name="cifar10",
        title="CIFAR-10",
        files=(
            RawFile(
                "cifar-10-python.tar.gz",
                {
                    f"{CIFAR_DIR}/data_batch_1": "c99cafc152244af753f735de768cd75f",
                    f"{CIFAR_DIR}/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                    f"{CIFAR_DIR}/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                    f"{CIFAR_DIR}/data_batch_4": "634d18415352ddfa80567beed471001a",
                    f"{CIFAR_DIR}/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                    f"{CIFAR_DIR}/test_batch": "40351d587109b95175f43aff81a1287e",
                },
                tuple(m + "cifar-10-python.tar.gz" for m in _CIFAR_MIRRORS),
            ),
        ),
        image_shape=(32, 32, 3),
        num_classes=10,
        num_official_train=50000,
        num_official_test=10000,
    ),
    # scikit-learn's bundled handwritten digits: offline and real, for demos and CI.
    # No official test split; one is drawn with the configured seed.
    "digits": DatasetSource(
        name="digits",
        title="scikit-learn digits",
        files=(),
        image_shape=(8, 8),
        num_classes=10,
        num_official_train=1797,
        num_official_test=0,
    ),
}

DATASETS = tuple(SOURCES)


def source(name: str) -> DatasetSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
