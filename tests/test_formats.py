"""Raw-format readers, on files built byte for byte in the official formats."""

import gzip
import io
import pickle
import struct
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from gmnrep.core.errors import DataError
from gmnrep.data import formats


def idx_bytes(array: np.ndarray) -> bytes:
    """Uncompressed IDX of unsigned bytes: 0x00 0x00 0x08 ndim, big-endian int32 dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.tobytes()


def write_gz(path, payload: bytes):
    path.write_bytes(gzip.compress(payload))
    return path


def write_idx(path, array):
    return write_gz(path, idx_bytes(array))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def idx_pair(tmp_path, rng):
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    return (
        write_idx(tmp_path / "images-idx3-ubyte.gz", images),
        write_idx(tmp_path / "labels-idx1-ubyte.gz", labels),
        images,
        labels,
    )


# --- IDX -------------------------------------------------------------------------------------


def test_read_idx_round_trip(idx_pair):
    images_path, labels_path, images, labels = idx_pair
    got = formats.read_idx(images_path)
    assert got.dtype == np.uint8 and got.shape == (7, 28, 28)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(formats.read_idx(labels_path), labels)


def test_read_idx_uses_big_endian_dims(tmp_path):
    # 256 rows x 1 column: a little-endian reader would see 65536 rows.
    array = np.arange(256, dtype=np.uint8).reshape(256, 1)
    assert idx_bytes(array)[4:12] == b"\x00\x00\x01\x00\x00\x00\x00\x01"
    np.testing.assert_array_equal(formats.read_idx(write_idx(tmp_path / "a.gz", array)), array)


def test_read_idx_pair_round_trip(idx_pair):
    images_path, labels_path, images, labels = idx_pair
    got_images, got_labels = formats.read_idx_pair(images_path, labels_path, (28, 28))
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_labels, labels.astype(np.int64))


def test_truncated_gzip_names_the_file(tmp_path, rng):
    full = gzip.compress(idx_bytes(rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)))
    path = tmp_path / "truncated-idx3-ubyte.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError) as info:
        formats.read_idx(path)
    assert str(path) in str(info.value)


def test_not_gzip_at_all_is_a_data_error(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DataError, match="plain.gz"):
        formats.read_idx(path)


@pytest.mark.parametrize(
    "magic",
    [
        b"\x00\x00\x09\x01",  # signed bytes, not unsigned
        b"\x00\x00\x0d\x01",  # float
        b"\x01\x00\x08\x01",  # first byte not zero
        b"\x08\x01\x00\x00",  # little-endian reading of the magic
    ],
)
def test_wrong_magic_is_a_data_error(tmp_path, magic):
    path = write_gz(tmp_path / "magic.gz", magic + struct.pack(">i", 3) + b"\x01\x02\x03")
    with pytest.raises(DataError) as info:
        formats.read_idx(path)
    assert str(path) in str(info.value)
    assert "magic" in str(info.value)


def test_empty_payload_is_a_data_error(tmp_path):
    path = write_gz(tmp_path / "empty.gz", b"")
    with pytest.raises(DataError, match="empty.gz"):
        formats.read_idx(path)


@pytest.mark.parametrize("extra", [-1, 1, -100])
def test_header_dims_inconsistent_with_byte_count(tmp_path, rng, extra):
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    payload = idx_bytes(images)
    payload = payload[:extra] if extra < 0 else payload + b"\x00" * extra
    path = write_gz(tmp_path / "inconsistent.gz", payload)
    with pytest.raises(DataError) as info:
        formats.read_idx(path)
    assert str(path) in str(info.value)
    assert "(3, 28, 28)" in str(info.value)


def test_truncated_header_is_a_data_error(tmp_path):
    # magic announces 3 dims but only one dim (4 bytes) follows
    path = write_gz(tmp_path / "short-header.gz", b"\x00\x00\x08\x03" + struct.pack(">i", 1))
    with pytest.raises(DataError, match="short-header.gz"):
        formats.read_idx(path)


def test_read_idx_pair_wrong_image_shape_names_the_file(tmp_path, rng):
    images_path = write_idx(tmp_path / "img27.gz", rng.integers(0, 256, size=(4, 27, 28), dtype=np.uint8))
    labels_path = write_idx(tmp_path / "lab.gz", np.arange(4, dtype=np.uint8))
    with pytest.raises(DataError) as info:
        formats.read_idx_pair(images_path, labels_path, (28, 28))
    assert str(images_path) in str(info.value)
    assert "(4, 27, 28)" in str(info.value)


def test_read_idx_pair_images_not_3d(tmp_path):
    images_path = write_idx(tmp_path / "flat.gz", np.zeros((4, 784), dtype=np.uint8))
    labels_path = write_idx(tmp_path / "lab.gz", np.arange(4, dtype=np.uint8))
    with pytest.raises(DataError, match="flat.gz"):
        formats.read_idx_pair(images_path, labels_path, (28, 28))


def test_read_idx_pair_label_count_mismatch(tmp_path, rng):
    images_path = write_idx(tmp_path / "img.gz", rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8))
    labels_path = write_idx(tmp_path / "lab.gz", np.arange(4, dtype=np.uint8))
    with pytest.raises(DataError) as info:
        formats.read_idx_pair(images_path, labels_path, (28, 28))
    assert str(labels_path) in str(info.value)
    assert "5 images" in str(info.value)


def test_read_idx_pair_labels_not_1d(tmp_path, rng):
    images_path = write_idx(tmp_path / "img.gz", rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8))
    labels_path = write_idx(tmp_path / "lab2d.gz", np.zeros((4, 1), dtype=np.uint8))
    with pytest.raises(DataError, match="lab2d.gz"):
        formats.read_idx_pair(images_path, labels_path, (28, 28))


# --- CIFAR-10 --------------------------------------------------------------------------------


def make_cifar_archive(path, batches: dict[str, tuple[np.ndarray, list[int]]], skip: tuple[str, ...] = ()):
    """tar.gz with cifar-10-batches-py/<name> members holding {b"data", b"labels"} pickles."""
    with tarfile.open(path, "w:gz") as archive:
        for name, (data, labels) in batches.items():
            if name in skip:
                continue
            payload = pickle.dumps({b"batch_label": name.encode(), b"data": data, b"labels": labels}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def cifar_batch(rng, n):
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, size=n)]


def test_read_cifar_batches_channel_major_layout(tmp_path, rng):
    batches = {
        "data_batch_1": cifar_batch(rng, 4),
        "data_batch_2": cifar_batch(rng, 3),
        "test_batch": cifar_batch(rng, 2),
    }
    archive = make_cifar_archive(tmp_path / "cifar-10-python.tar.gz", batches)
    members = tuple(f"cifar-10-batches-py/{name}" for name in ("data_batch_1", "data_batch_2", "test_batch"))
    images, labels = formats.read_cifar_batches(archive, members)

    data = np.concatenate([batches[name][0] for name in ("data_batch_1", "data_batch_2", "test_batch")])
    expected_labels = sum((batches[name][1] for name in ("data_batch_1", "data_batch_2", "test_batch")), [])
    assert images.shape == (9, 32, 32, 3) and images.dtype == np.uint8
    assert images.flags.c_contiguous
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, expected_labels)
    for i in range(9):
        for r in (0, 5, 31):
            for c in (0, 17, 31):
                for ch in range(3):
                    assert images[i, r, c, ch] == data[i, ch * 1024 + r * 32 + c]
    # the whole array, by the same formula
    i, r, c, ch = np.meshgrid(np.arange(9), np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    np.testing.assert_array_equal(images, data[i, ch * 1024 + r * 32 + c])


def test_read_cifar_batches_follows_member_order(tmp_path, rng):
    batches = {"data_batch_1": cifar_batch(rng, 2), "test_batch": cifar_batch(rng, 3)}
    archive = make_cifar_archive(tmp_path / "c.tar.gz", batches)
    images, labels = formats.read_cifar_batches(
        archive, ("cifar-10-batches-py/test_batch", "cifar-10-batches-py/data_batch_1")
    )
    assert images.shape[0] == 5
    np.testing.assert_array_equal(labels, batches["test_batch"][1] + batches["data_batch_1"][1])
    assert images[0, 0, 0, 0] == batches["test_batch"][0][0, 0]


def test_read_cifar_batches_missing_member(tmp_path, rng):
    archive = make_cifar_archive(tmp_path / "c.tar.gz", {"data_batch_1": cifar_batch(rng, 2)})
    with pytest.raises(DataError) as info:
        formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/data_batch_2"))
    assert str(archive) in str(info.value)
    assert "data_batch_2" in str(info.value)


def test_read_cifar_batches_wrong_row_length(tmp_path, rng):
    bad = rng.integers(0, 256, size=(2, 3000), dtype=np.uint8)
    archive = make_cifar_archive(tmp_path / "c.tar.gz", {"data_batch_1": (bad, [0, 1])})
    with pytest.raises(DataError, match="3072"):
        formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1",))


def test_read_cifar_batches_label_count_mismatch(tmp_path, rng):
    data, labels = cifar_batch(rng, 3)
    archive = make_cifar_archive(tmp_path / "c.tar.gz", {"data_batch_1": (data, labels[:2])})
    with pytest.raises(DataError, match="2 labels for 3 images"):
        formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1",))


def test_read_cifar_batches_truncated_archive(tmp_path, rng):
    archive = make_cifar_archive(tmp_path / "c.tar.gz", {"data_batch_1": cifar_batch(rng, 20)})
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError) as info:
        formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1",))
    assert str(archive) in str(info.value)


def test_read_cifar_batches_missing_data_key(tmp_path):
    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        payload = pickle.dumps({b"labels": [1, 2]})
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    with pytest.raises(DataError, match="c.tar.gz"):
        formats.read_cifar_batches(path, ("cifar-10-batches-py/data_batch_1",))


# --- scikit-learn digits ---------------------------------------------------------------------


def test_read_digits_real_file():
    path = formats.digits_source_file()
    assert path.is_file()
    images, labels = formats.read_digits(path)
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 255
    assert labels.dtype == np.int64 and labels.shape == (1797,)
    assert set(labels.tolist()) == set(range(10))


def test_read_digits_matches_sklearn_rescaled():
    from sklearn.datasets import load_digits

    images, labels = formats.read_digits(formats.digits_source_file())
    reference = load_digits()
    np.testing.assert_array_equal(labels, reference.target)
    np.testing.assert_array_equal(images, np.rint(reference.images * 255 / 16).astype(np.uint8))


def test_the_digits_file_is_found_without_importing_scikit_learn():
    """Every Snakemake start asks for it (the digits' raw input); importing scikit-learn there cost
    1.5-2 s of each start."""
    probe = "import sys; from gmnrep.data import formats; formats.digits_source_file(); print('sklearn' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def _digits_row(pixel_value, label=3):
    return ",".join([str(pixel_value)] + ["0"] * 63 + [str(label)])


def test_read_digits_small_csv(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text(_digits_row(16, 7) + "\n" + _digits_row(8, 2) + "\n")
    images, labels = formats.read_digits(path)
    assert images.shape == (2, 8, 8)
    assert images[0, 0, 0] == 255 and images[1, 0, 0] == 128  # round(8 * 255 / 16) = round(127.5) = 128
    assert images[:, 1:, :].max() == 0
    np.testing.assert_array_equal(labels, [7, 2])


def test_read_digits_pixel_out_of_range(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text(_digits_row(0) + "\n" + _digits_row(17) + "\n")
    with pytest.raises(DataError) as info:
        formats.read_digits(path)
    assert str(path) in str(info.value)


def test_read_digits_wrong_column_count(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="digits.csv"):
        formats.read_digits(path)


def test_read_digits_not_numeric(tmp_path):
    path = tmp_path / "digits.csv"
    path.write_text("hello,world\n")
    with pytest.raises(DataError, match="digits.csv"):
        formats.read_digits(path)


class _CreatesAFile:
    """What a hostile pickle can do: unpickling it calls open(path, "w")."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def add_member(archive_path, name, payload):
    with tarfile.open(archive_path, "w:gz") as archive:
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return archive_path


def test_a_cifar_batch_that_would_run_code_is_refused_and_runs_nothing(tmp_path, rng):
    victim = tmp_path / "created-by-the-pickle"
    data, labels = cifar_batch(rng, 2)
    payload = pickle.dumps({b"data": data, b"labels": labels, b"hook": _CreatesAFile(victim)}, protocol=2)
    archive = add_member(tmp_path / "c.tar.gz", "data_batch_1", payload)
    with pytest.raises(DataError) as info:
        formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1",))
    message = str(info.value)
    assert f"{archive}:cifar-10-batches-py/data_batch_1" in message and "io.open" in message
    assert not victim.exists()


def test_a_batch_shaped_as_the_official_ones_passes_the_restricted_unpickler(tmp_path, rng):
    # the official batches: batch_label, labels (ints), data (uint8 array) and filenames (bytes), protocol 2
    data, labels = cifar_batch(rng, 3)
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": data,
             b"filenames": [b"a.png", b"b.png", b"c.png"]}  # fmt: skip
    archive = add_member(tmp_path / "c.tar.gz", "data_batch_1", pickle.dumps(batch, protocol=2))
    images, read_labels = formats.read_cifar_batches(archive, ("cifar-10-batches-py/data_batch_1",))
    assert images.shape == (3, 32, 32, 3) and read_labels.tolist() == labels
    np.testing.assert_array_equal(images[1, 0, 0], data[1, [0, 1024, 2048]])
