"""Faults the pipeline refuses with an error naming the file or config key and the problem,
before work starts where it can, leaving no output behind.

Every fault is built for real: raw files byte for byte in their official formats, intermediate
files by the pipeline's own writers and then damaged, configurations from config.yaml with one
value changed. Faults that other test modules already cover are not repeated here:

A. raw data     truncated IDX / tar.gz / download (test_formats, test_fetch), wrong checksum
                (test_fetch), IDX images of the wrong height or width, CIFAR rows of the wrong
                length, digits pixels out of range (test_formats)
B. intermediate a shard with NaN weights or a missing dataset, bytes that are not HDF5
                (test_shards), an activation dump with a missing layer or NaN features
                (test_activations)
C. config       wrong types, unknown dataset or architecture, negative seeds (test_config)
D. numerical    a diverging INR fit in fit_batch (test_inr_fitting), constant features
                (DegenerateCKAError) and minibatches under 4 samples (CKAInputError) in
                test_cka, a NaN in a CKA table (test_tables)
"""

import copy
import csv
import gzip
import hashlib
import io
import tarfile

import h5py
import numpy as np
import pytest
import yaml

from conftest import DWSNETS_RECIPE, preset_files
from gmnrep import config as cfg
from gmnrep.core.errors import ConfigError, DataError
from gmnrep.data import dataset_file, formats
from gmnrep.data.sources import (
    CIFAR_DIR,
    CIFAR_MEMBERS,
    SOURCES,
    DatasetSource,
    RawFile,
)
from gmnrep.inr import planning, shard_fitting, shards
from gmnrep.paper import accuracy_table
from gmnrep.representations import dump_file, similarity
from test_config import CONFIG, SCHEMA, problems_of
from test_formats import cifar_batch, idx_bytes, make_cifar_archive, write_gz
from test_tables import record, write_metrics


def md5(payload: bytes) -> str:
    return hashlib.md5(payload).hexdigest()


def assert_nothing_written(output):
    """Neither the output nor a temporary of it (atomic_path's .{name}.*.tmp) exists."""
    assert not output.exists(), f"{output} was written"
    if output.parent.exists():
        assert sorted(p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")) == []


# =============================================================================================
# A. Bad raw data: refused by dataset_file.prepare / build before results/data/{dataset}.h5 exists
# =============================================================================================


def write_idx_files(folder, train_images, train_labels, test_images, test_labels):
    """The four gzipped IDX files of an MNIST-like dataset under their official names."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = (train_images, train_labels, test_images, test_labels)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return [write_gz(folder / f"{name}.gz", idx_bytes(array)) for name, array in zip(names, arrays)]


def idx_source(paths, num_train, num_test, image_shape=(28, 28)) -> DatasetSource:
    """A small IDX dataset whose registered checksums are those of the files at `paths`: the checksum
    passes, so what refuses a bad file is the check after it (a wrong registry entry, or a new source)."""
    files = tuple(
        RawFile(path.name, {path.name.removesuffix(".gz"): md5(gzip.decompress(path.read_bytes()))}, ())
        for path in paths
    )
    return DatasetSource("toy_idx", "Toy IDX", files, image_shape, 10, num_train, num_test)


def cifar_source(archive, num_train, num_test) -> DatasetSource:
    """A CIFAR-10 source of `archive`'s own size and checksums (build reads tarballs for 'cifar10')."""
    with tarfile.open(archive, "r:gz") as tar:
        content = {m.name: md5(tar.extractfile(m).read()) for m in tar if m.isfile()}
    files = (RawFile(archive.name, content, ()),)
    return DatasetSource("cifar10", "CIFAR-10 (small)", files, (32, 32, 3), 10, num_train, num_test)


def small_cifar(folder, rng, replaced_labels=None):
    """cifar-10-python.tar.gz with 4 images per batch; `replaced_labels` maps a batch to its labels."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = {member: cifar_batch(rng, 4) for member in CIFAR_MEMBERS}
    for member, labels in (replaced_labels or {}).items():
        batches[member] = (batches[member][0], labels)
    return make_cifar_archive(folder / "cifar-10-python.tar.gz", batches)


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def test_prepare_refuses_a_truncated_cifar_archive_and_writes_no_dataset_file(tmp_path, rng):
    archive = small_cifar(tmp_path / "raw", rng)
    archive.write_bytes(archive.read_bytes()[:-200])
    output = tmp_path / "results" / "data" / "cifar10.h5"
    with pytest.raises(DataError) as info:
        dataset_file.prepare([archive], output, "cifar10", validation_size=5000, test_size=1, seed=0)
    assert str(archive) in str(info.value) and "truncated" in str(info.value)
    assert_nothing_written(output)


def test_prepare_refuses_a_truncated_idx_file_and_writes_no_dataset_file(tmp_path, rng):
    paths = write_idx_files(
        tmp_path / "raw",
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        np.arange(20, dtype=np.uint8) % 10,
        rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        np.arange(5, dtype=np.uint8),
    )
    paths[0].write_bytes(paths[0].read_bytes()[:-10])  # the training images lose their gzip trailer
    output = tmp_path / "results" / "data" / "mnist.h5"
    with pytest.raises(DataError) as info:
        dataset_file.prepare(paths, output, "mnist", validation_size=5000, test_size=1, seed=0)
    assert str(paths[0]) in str(info.value) and "truncated" in str(info.value)
    assert_nothing_written(output)


def test_prepare_refuses_idx_files_with_another_checksum_naming_file_and_expected_md5(tmp_path, rng):
    # Well-formed IDX files, but not the official MNIST: the checksum is what refuses them.
    paths = write_idx_files(
        tmp_path / "raw",
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        np.arange(20, dtype=np.uint8) % 10,
        rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        np.arange(5, dtype=np.uint8),
    )
    output = tmp_path / "results" / "data" / "mnist.h5"
    with pytest.raises(DataError) as info:
        dataset_file.prepare(paths, output, "mnist", validation_size=5000, test_size=1, seed=0)
    message = str(info.value)
    assert str(paths[0]) in message and "md5" in message
    assert SOURCES["mnist"].files[0].content_md5["train-images-idx3-ubyte"] in message
    assert_nothing_written(output)


@pytest.mark.parametrize(
    "fault, expected",
    [
        ("label 10", r"labels span 0\.\.10, expected 0\.\.9"),
        ("one image fewer than the source has", r"images have shape \(9, 28, 28\), expected \(10, 28, 28\)"),
        ("32 x 32 images for a 28 x 28 source", r"images have shape \(6, 32, 32\), expected \(N, 28, 28\)"),
    ],
)
def test_build_refuses_idx_files_of_the_wrong_shape_or_label_range(tmp_path, rng, fault, expected):
    side = 32 if fault.startswith("32") else 28
    num_train = 5 if fault.startswith("one image") else 6
    train_labels = np.arange(num_train, dtype=np.uint8)
    if fault == "label 10":
        train_labels[2] = 10
    paths = write_idx_files(
        tmp_path,
        rng.integers(0, 256, (num_train, side, side), dtype=np.uint8),
        train_labels,
        rng.integers(0, 256, (4, side, side), dtype=np.uint8),
        np.arange(4, dtype=np.uint8),
    )
    source = idx_source(paths, num_train=6, num_test=4)
    with pytest.raises(DataError, match=expected) as info:
        dataset_file.build(source, paths, validation_size=2, test_size=1, seed=0)
    # the message names the file at fault (for the whole-dataset checks: every raw file)
    assert str(paths[0]) in str(info.value)
    if fault == "label 10":
        assert str(paths[1]) in str(info.value)


@pytest.mark.parametrize(
    "labels, expected",
    [
        ([0, 1, 10, 3], r"labels span 0\.\.10, expected 0\.\.9"),
        ([0, -1, 2, 3], r"labels span -1\.\.9, expected 0\.\.9"),
        (["cat", 1, 2, 3], "not integers"),
    ],
)
def test_build_refuses_cifar_batches_with_labels_out_of_range(tmp_path, rng, labels, expected):
    archive = small_cifar(tmp_path, rng, {"data_batch_3": labels})
    source = cifar_source(archive, num_train=20, num_test=4)
    members = tuple(f"{CIFAR_DIR}/{m}" for m in CIFAR_MEMBERS)
    assert set(source.files[0].content_md5) == set(members)
    with pytest.raises(DataError, match=expected) as info:
        dataset_file.build(source, [archive], validation_size=2, test_size=1, seed=0)
    assert str(archive) in str(info.value)


@pytest.fixture(scope="module")
def digits_table():
    """scikit-learn's digits CSV as read by numpy: 1797 rows of 64 pixels and a label."""
    return np.loadtxt(formats.digits_source_file(), delimiter=",")


def write_digits_csv(path, table):
    np.savetxt(path, table, fmt="%g", delimiter=",")
    return path


def with_label(value):
    def damage(table):
        table = table.copy()
        table[100, 64] = value
        return table

    return damage


DIGITS_FAULTS = {
    "label 10": (with_label(10), r"labels span 0\.\.10, expected 0\.\.9"),
    "label 3.5": (with_label(3.5), "labels .* must be whole numbers"),
    "one row short": (lambda table: table[:-1], r"images have shape \(1796, 8, 8\), expected \(1797, 8, 8\)"),
    "one pixel column short": (
        lambda table: table[:, 1:],
        r"expected rows of 64 pixels and a label, got shape \(1797, 64\)",
    ),
}


@pytest.mark.parametrize("fault", DIGITS_FAULTS)
def test_prepare_refuses_a_digits_csv_of_the_wrong_shape_or_label_range(tmp_path, digits_table, fault):
    damage, expected = DIGITS_FAULTS[fault]
    path = write_digits_csv(tmp_path / "digits.csv", damage(digits_table))
    output = tmp_path / "results" / "data" / "digits.h5"
    with pytest.raises(DataError, match=expected) as info:
        dataset_file.prepare([path], output, "digits", validation_size=180, test_size=360, seed=0)
    assert str(path) in str(info.value)
    assert_nothing_written(output)


def test_the_undamaged_digits_csv_is_accepted(tmp_path, digits_table):
    """The faults above, undone: the same writer and reader give the real digits."""
    path = write_digits_csv(tmp_path / "digits.csv", digits_table)
    data = dataset_file.prepare([path], tmp_path / "digits.h5", "digits", validation_size=180, test_size=360, seed=0)
    assert data.images.shape == (1797, 8, 8) and set(data.labels.tolist()) == set(range(10))


# =============================================================================================
# B. Bad intermediate data: the consuming function fails with a DataError naming the file
# =============================================================================================

RECIPE = {**DWSNETS_RECIPE, "hidden": [8, 8], "max_steps": 5}
SUBSET = {"train": 6, "val": 2, "test": 2}


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.h5"
    dataset_file.prepare([formats.digits_source_file()], path, "digits", validation_size=180, test_size=360, seed=0)
    return path


def fit_one_shard(data_path, shard_path, recipe=RECIPE):
    """Shard 0 of 1: the ten images of SUBSET, fitted for a few steps."""
    return shard_fitting.fit_shard(
        data_path,
        shard_path,
        0,
        recipe=recipe,
        seed=0,
        shard_size=10,
        num_shards=1,
        subset=SUBSET,
        subset_seed=0,
        fit_batch_size={"cpu": 10, "cuda": 10},
        device="cpu",
    )


@pytest.fixture(scope="module")
def good_shard(digits_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("shards") / "shard-0.h5"
    fit_one_shard(digits_file, path)
    return path


def copy_of(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def damage_structure(path, signature: bytes):
    """Overwrite the header of the first HDF5 structure with this signature (B-tree node TREE, local
    heap HEAP, symbol-table node SNOD) with 0xFF bytes, as a disk or a hand edit might."""
    data = bytearray(path.read_bytes())
    start = data.find(signature)
    assert start >= 0, f"{path} has no {signature!r} structure to damage"
    data[start + len(signature) : start + len(signature) + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path


def refused_by_every_consumer(shard_path, tmp_path, expected):
    """shards.read and the INR summary refuse the shard naming it; the summary is not written."""
    with pytest.raises(DataError, match=expected) as info:
        shards.read(shard_path)
    assert str(shard_path) in str(info.value)
    summary = tmp_path / "summary.csv"
    with pytest.raises(DataError, match=expected):
        shards.write_summary([shard_path], summary, target_psnr=40.0)
    assert_nothing_written(summary)


def test_the_undamaged_shard_is_read(good_shard):
    shard = shards.read(good_shard)
    assert len(shard.image_index) == 10 and [w.shape for w, _ in shard.weights] == [(10, 8, 2), (10, 8, 8), (10, 1, 8)]


@pytest.mark.parametrize("keep", [0.5, 0.9, 96], ids=["half", "all but the last tenth", "the superblock only"])
def test_a_truncated_shard_is_refused(good_shard, tmp_path, keep):
    data = good_shard.read_bytes()
    bad = tmp_path / "shard-0.h5"
    bad.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    refused_by_every_consumer(bad, tmp_path, "not a readable HDF5 file")


@pytest.mark.parametrize("signature", [b"TREE", b"HEAP", b"SNOD"])
def test_a_shard_with_damaged_hdf5_structures_is_refused(good_shard, tmp_path, signature):
    # h5py raises RuntimeError or KeyError for these, not OSError; shards.read must still name the file.
    bad = damage_structure(copy_of(good_shard, tmp_path / "shard-0.h5"), signature)
    refused_by_every_consumer(bad, tmp_path, "corrupt HDF5 file")


def replace_dataset(key, value):
    def edit(f):
        del f[key]
        f[key] = value

    return edit


HAND_EDITS = {
    "weights of the wrong shape": (
        replace_dataset("weights/1/W", np.zeros((10, 8, 7), np.float32)),
        r"weights/1 have shapes \(10, 8, 7\), \(10, 8\); expected \(10, 8, 8\), \(10, 8\)",
    ),
    "an infinite bias": (lambda f: f["weights/2/b"].__setitem__((3, 0), np.inf), "weights/2 contain NaN or infinite"),
    "no layer_sizes attribute": (lambda f: f.attrs.__delitem__("layer_sizes"), "layer_sizes is missing"),
    "unreadable layer_sizes": (
        lambda f: f.attrs.__setitem__("layer_sizes", "[2, 8,"),
        "layer_sizes is missing or unreadable",
    ),
    "a missing weight array": (lambda f: f.__delitem__("weights/0/b"), r"missing dataset\(s\) weights/0/b"),
}


@pytest.mark.parametrize("edit", HAND_EDITS)
def test_a_hand_edited_shard_is_refused(good_shard, tmp_path, edit):
    change, expected = HAND_EDITS[edit]
    bad = copy_of(good_shard, tmp_path / "shard-0.h5")
    with h5py.File(bad, "r+") as f:
        change(f)
    refused_by_every_consumer(bad, tmp_path, expected)


def test_a_damaged_dataset_file_is_refused_and_no_shard_is_fitted(digits_file, tmp_path):
    bad = damage_structure(copy_of(digits_file, tmp_path / "digits.h5"), b"TREE")
    shard = tmp_path / "inrs" / "shard-0.h5"
    with pytest.raises(DataError, match="corrupt HDF5 file") as info:
        fit_one_shard(bad, shard)
    assert str(bad) in str(info.value)
    assert_nothing_written(shard)


# =============================================================================================
# C. Bad configuration: refused by config.resolve with one line per problem naming the key
# =============================================================================================


@pytest.fixture(scope="module")
def _config():
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture
def raw(_config):
    return copy.deepcopy(_config)


def smoke(raw, **command_line):
    """Resolve `raw` with the smoke preset and Snakemake's `--config key=value` values layered over it."""
    preset = yaml.safe_load(preset_files("smoke")[-1].read_text())
    return cfg.resolve(cfg.deep_merge(cfg.deep_merge(raw, preset), command_line), SCHEMA, command_line)


def smoke_problems(raw, command_line) -> list[str]:
    with pytest.raises(ConfigError) as info:
        smoke(raw, **command_line)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_a_cka_layer_beyond_the_representation_layers_is_refused(raw):
    raw["cka"]["figure_layers"] = [3, 6]  # paper networks: 4 blocks + penultimate = 5 layers
    assert problems_of(raw) == ["cka.figure_layers: layer 6 is beyond the 5 representation layers"]
    raw["cka"]["figure_layers"] = [5]
    cfg.resolve(raw, SCHEMA)  # the last layer is fine


def test_cka_layer_zero_is_refused(raw):
    raw["cka"]["figure_layers"] = [0, 3]
    (line,) = problems_of(raw)
    assert line.startswith("cka.figure_layers[0]:") and "minimum of 1" in line


@pytest.mark.parametrize("shard_size", [0, -5, 2.5, 5000.0, True, None, "5000"])
def test_a_shard_size_that_is_not_a_positive_integer_is_refused(raw, shard_size):
    """A shard size divides a dataset's selected images into ceil(images / shard_size) shards of
    that many images; it divides sensibly when it is a whole number >= 1. 0 would divide by zero,
    a negative size would make one shard of slice [0:-5] (missing images), and a float such as
    5000.0, which JSON Schema counts as an integer, fails only inside the shard job as a slice index."""
    raw["inr"]["shard_size"] = shard_size
    (line,) = problems_of(raw)
    assert line.startswith("inr.shard_size:")
    assert repr(shard_size) in line


def test_a_shard_size_larger_than_a_dataset_makes_one_shard_of_every_image(raw):
    """Larger than a dataset is not degenerate, so it is accepted: the dataset is one shard holding
    every selected image (paper settings on digits: shard_size 5000 > 1797 images). Every shard plan
    has at least one shard, none of them empty, and together they hold each selected image once."""
    raw["datasets"] = ["digits"]
    resolved = cfg.resolve(raw, SCHEMA)
    sizes = cfg.dataset_split_sizes(resolved, "digits")
    assert resolved["inr"]["shard_size"] > sum(sizes.values())
    assert planning.shard_count(sizes, resolved["inr"]["subset"], resolved["inr"]["shard_size"]) == 1
    selected = np.arange(sum(sizes.values()))
    np.testing.assert_array_equal(planning.shard_members(selected, 0, resolved["inr"]["shard_size"]), selected)


SEED_KEYS = {
    "data.split_seed": lambda c, v: c["data"].__setitem__("split_seed", v),
    "inr.seed": lambda c, v: c["inr"].__setitem__("seed", v),
    "inr.subset_seed": lambda c, v: c["inr"].__setitem__("subset_seed", v),
    "models.seeds[1]": lambda c, v: c["models"].__setitem__("seeds", [0, v]),
    "activations.probe_seed": lambda c, v: c["activations"].__setitem__("probe_seed", v),
    "cka.seed": lambda c, v: c["cka"].__setitem__("seed", v),
}


@pytest.mark.parametrize("key", SEED_KEYS)
@pytest.mark.parametrize("seed", [-1, 2**63], ids=["negative", "2^63"])
def test_a_seed_out_of_range_is_refused(raw, key, seed):
    """Seeds are whole numbers in 0 .. 2^63 - 1: the pipeline stores them as int64 in its HDF5 files
    (2^63 made the CKA operand job fail with an OverflowError, after every model was trained)."""
    SEED_KEYS[key](raw, seed)
    (line,) = problems_of(raw)
    assert line.startswith(f"{key}:") and str(seed) in line
    SEED_KEYS[key](raw, 2**63 - 1)
    cfg.resolve(raw, SCHEMA)  # the largest seed is fine


def test_a_validation_size_of_zero_is_refused(raw):
    """Training selects its epoch on the validation images and refuses an empty validation split;
    without this check it did so only after every INR was fitted."""
    raw["data"]["validation_size"]["mnist"] = 0
    assert problems_of(raw) == ["data.validation_size.mnist: 0 leaves mnist no validation images; use at least 1"]


def test_a_cka_minibatch_larger_than_the_probe_samples_is_refused(raw):
    """The minibatch estimator needs at least one full minibatch of probe samples; the smoke preset
    probes 16 test images per dataset, so 17 cannot be filled (and the CKA jobs would fail after training)."""
    lines = smoke_problems(raw, {"cka": {"estimator": "minibatch", "minibatch_size": 17}})
    assert lines == [
        f"cka.minibatch_size: 17 is more than the 16 probe samples of {dataset} "
        "(its test images, at most activations.probe_size); no minibatch could be filled"
        for dataset in ("digits", "fashion_mnist")
    ]
    lines = smoke_problems(
        raw,
        {"cka": {"estimator": "minibatch", "minibatch_size": 8, "probe_blocks": 4}, "activations": {"probe_size": 6}},
    )
    assert len(lines) == 2
    assert all(line.startswith("cka.minibatch_size: 8 is more than the 6 probe samples") for line in lines)
    # exactly one minibatch, or the linear estimator (which uses no minibatches), is fine
    smoke(raw, cka={"estimator": "minibatch", "minibatch_size": 16})
    smoke(raw, cka={"estimator": "linear", "minibatch_size": 1000})


def test_more_probe_blocks_than_probe_samples_are_refused(raw):
    """Each probe block must hold a sample (the claims leave each block out in turn)."""
    lines = smoke_problems(raw, {"cka": {"probe_blocks": 17}})
    assert lines == [
        f"cka.probe_blocks: 17 is more than the 16 probe samples of {dataset} "
        "(its test images, at most activations.probe_size); a block would be empty"
        for dataset in ("digits", "fashion_mnist")
    ]
    smoke(raw, cka={"probe_blocks": 16})


def test_several_new_problems_give_one_line_each(raw):
    raw["inr"]["shard_size"] = 0
    raw["cka"]["seed"] = 2**63
    raw["models"]["seeds"] = [0, -1]
    raw["inr"]["fit_batch_size"]["cpu"] = 256.0
    lines = problems_of(raw)
    assert len(lines) == 4
    for key in ("inr.shard_size:", "cka.seed:", "models.seeds[1]:", "inr.fit_batch_size.cpu:"):
        assert sum(line.startswith(key) for line in lines) == 1, (key, lines)


def test_several_cross_key_problems_give_one_line_each(raw):
    raw["data"]["validation_size"]["fashion_mnist"] = 0
    raw["cka"]["figure_layers"] = [3, 9]
    raw["cka"]["estimator"] = "minibatch"
    raw["activations"]["probe_size"] = 500
    raw["cka"]["minibatch_size"] = 501
    lines = problems_of(raw)
    assert len(lines) == 5
    assert sum(line.startswith("cka.figure_layers: layer 9") for line in lines) == 1
    assert sum(line.startswith("data.validation_size.fashion_mnist: 0") for line in lines) == 1
    assert sum(line.startswith("cka.minibatch_size: 501") for line in lines) == 3  # one per dataset


# =============================================================================================
# D. Numerical faults
# =============================================================================================


def test_a_diverging_inr_fit_stops_the_shard_job_and_writes_no_shard(digits_file, tmp_path):
    shard = tmp_path / "inrs" / "shard-0.h5"
    with pytest.raises(FloatingPointError) as info:
        fit_one_shard(digits_file, shard, recipe={**RECIPE, "lr": 1e30, "max_steps": 50})
    message = str(info.value)
    assert str(shard) in message and "non-finite INR loss" in message and "no shard written" in message
    assert_nothing_written(shard)


def write_activation_dump(path, layers, n):
    dump = dump_file.ActivationDump(
        layers=layers,
        image_index=np.arange(n, dtype=np.int64),
        label=np.arange(n, dtype=np.int64) % 10,
        logits=np.random.default_rng(0).normal(size=(n, 10)).astype(np.float32),
        attrs={"dataset": "digits", "arch": "mlp", "seed": 0, "num_layers": len(layers)},
    )
    dump_file.write(path, dump)
    return path


@pytest.mark.parametrize("estimator", ["linear", "minibatch"])
def test_cka_of_a_layer_with_only_constant_features_is_refused_naming_dump_and_layer(tmp_path, estimator):
    rng = np.random.default_rng(0)
    # layer 2 is dead (every ReLU zero on every probe sample): CKA with it is 0/0
    layers = [
        rng.normal(size=(12, 5)).astype(np.float32),
        np.zeros((12, 4), np.float32),
        rng.normal(size=(12, 3)).astype(np.float32),
    ]
    dump = write_activation_dump(tmp_path / "seed-0.h5", layers, 12)
    output, chance = tmp_path / "cka" / "mlp-0.h5", tmp_path / "cka" / "chance" / "mlp-0.csv"
    with pytest.raises(DataError) as info:
        similarity.write_operands(dump, output, chance, estimator=estimator, minibatch_size=4, seed=0)
    message = str(info.value)
    assert str(dump) in message and "layers/2" in message and "constant" in message and "undefined" in message
    assert_nothing_written(output)
    assert_nothing_written(chance)


def test_cka_minibatches_larger_than_the_probe_samples_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    dump = write_activation_dump(tmp_path / "seed-0.h5", [rng.normal(size=(3, 4)).astype(np.float32)], 3)
    output, chance = tmp_path / "cka" / "mlp-0.h5", tmp_path / "cka" / "chance" / "mlp-0.csv"
    with pytest.raises(DataError, match="3 probe samples, fewer than cka.minibatch_size 4") as info:
        similarity.write_operands(dump, output, chance, estimator="minibatch", minibatch_size=4, seed=0)
    assert str(dump) in str(info.value)
    assert_nothing_written(output)
    assert_nothing_written(chance)


@pytest.mark.parametrize("test_acc", ["NaN", "Infinity", "-Infinity", "1.5", "-0.1", '"0.9"', "true", "null"])
def test_table_1_refuses_a_test_accuracy_that_is_not_a_number_in_0_1(tmp_path, test_acc):
    good = write_metrics(tmp_path / "metrics", [record("digits", "gmn", 0, 0.5)])
    bad = tmp_path / "metrics" / "digits-mlp-0.json"
    bad.write_text(f'{{"dataset": "digits", "arch": "mlp", "seed": 0, "test_acc": {test_acc}, "val_acc": 0.5}}')
    outputs = [tmp_path / "tables" / name for name in ("table1.csv", "table1.md", "table1.tex")]
    with pytest.raises(DataError, match=r"test_acc is .*, not a number in \[0, 1\]") as info:
        accuracy_table.write_accuracy_table([*good, bad], *outputs)
    assert str(bad) in str(info.value)
    for output in outputs:
        assert_nothing_written(output)


def test_table_1_accepts_the_bounds(tmp_path):
    paths = write_metrics(tmp_path, [record("digits", "gmn", 0, 0), record("digits", "gmn", 1, 1.0)])
    rows = accuracy_table.write_accuracy_table(paths, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert rows[0]["test_acc_mean"] == 50.0
    parsed = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert all(np.isfinite(float(parsed[0][column])) for column in ("test_acc_mean", "test_acc_std"))
