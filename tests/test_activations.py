"""Activation dumps, the pairs compared, and CKA pair tables from dumps."""

import csv
import weakref

import h5py
import numpy as np
import pytest

import torch

from gmnrep import activation_dump, activations, checkpoints, pairs, shards, similarity, training
from gmnrep.errors import DataError
from gmnrep.splits import TEST

from test_training import make_shard, tiny, train  # noqa: F401  (fixture and helpers shared with the training tests)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tiny, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("models")
    return {arch: train(tiny, root, arch, name=arch)[0] for arch in ("gmn", "mlp", "cnn")}


@pytest.fixture(scope="module")
def dumps(tiny, models, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("dumps")
    data_path, shard_paths, _, _ = tiny
    result = {}
    for arch, model_path in models.items():
        out = root / f"{arch}.h5"
        activations.dump(model_path, data_path, shard_paths, out, probe_size=None, probe_seed=0, batch_size=5)
        result[arch] = out
    return result


@pytest.fixture(scope="module")
def ordered_shards(tiny, tmp_path_factory):  # noqa: F811
    """Four shards cut from the first 48 images in image order, as the workflow cuts them."""
    root = tmp_path_factory.mktemp("ordered")
    _, _, data, _ = tiny
    paths = [root / f"shard-{k}.h5" for k in range(4)]
    for k, path in enumerate(paths):
        shards.write(path, make_shard(data, np.arange(12 * k, 12 * (k + 1)), seed=k))
    return paths


def test_every_dump_lists_the_same_test_samples_in_increasing_image_index(tiny, dumps):  # noqa: F811
    _, _, data, parts = tiny
    indices = np.concatenate([p.image_index for p in parts])
    test = np.sort(indices[np.concatenate([p.split for p in parts]) == TEST])
    loaded = {arch: activation_dump.read(path) for arch, path in dumps.items()}
    for dump in loaded.values():
        np.testing.assert_array_equal(dump.image_index, test)
        np.testing.assert_array_equal(dump.label, data.labels[test])
    np.testing.assert_array_equal(loaded["gmn"].image_index, loaded["mlp"].image_index)


def test_a_dump_holds_every_representation_layer_and_the_logits(dumps):
    dump = activation_dump.read(dumps["cnn"])
    assert dump.attrs["num_layers"] == len(dump.layers) == 3  # two blocks and the penultimate layer
    n = len(dump.image_index)
    assert all(layer.dtype == np.float32 and layer.shape[0] == n for layer in dump.layers)
    assert dump.logits.shape == (n, 10) and dump.attrs["arch"] == "cnn"


def test_a_probe_subset_is_seeded_sorted_and_shared(tiny):  # noqa: F811
    from gmnrep import training

    data_path, shard_paths, _, _ = tiny
    gmn = training.load_samples("gmn", data_path, shard_paths)
    mlp = training.load_samples("mlp", data_path, shard_paths)
    rows = activations.probe_rows(gmn, 4, probe_seed=3)
    assert len(rows) == 4 and np.all(np.diff(gmn.image_index[rows]) > 0)
    np.testing.assert_array_equal(rows, activations.probe_rows(mlp, 4, probe_seed=3))
    assert not np.array_equal(rows, activations.probe_rows(gmn, 4, probe_seed=4))


@pytest.mark.parametrize("arch", ["gmn", "cnn"])
@pytest.mark.parametrize("probe_size", [None, 5])
@pytest.mark.parametrize("ordered", [False, True], ids=["shards-unordered", "shards-in-image-order"])
def test_a_streamed_dump_equals_one_computed_from_all_samples_at_once(
    tiny, models, ordered_shards, tmp_path, arch, probe_size, ordered  # noqa: F811
):
    data_path = tiny[0]
    shard_paths = ordered_shards if ordered else tiny[1]
    out = tmp_path / "dump.h5"
    activations.dump(models[arch], data_path, shard_paths, out, probe_size=probe_size, probe_seed=1, batch_size=3)
    streamed = activation_dump.read(out)

    model, _ = checkpoints.load(models[arch], torch.device("cpu"))
    samples = training.load_samples(arch, data_path, shard_paths)
    rows = activations.probe_rows(samples, probe_size, probe_seed=1)
    layers, logits = activations.compute(model, samples, rows, batch_size=3, name="reference")

    shard_of_row = np.searchsorted(training.index_shards(data_path, shard_paths).starts, rows, side="right")
    assert len(set(shard_of_row)) > 1  # precondition: the probe samples span shards
    assert len(streamed.layers) == len(layers)
    for got, expected in zip(streamed.layers, layers):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(streamed.logits, logits)
    np.testing.assert_array_equal(streamed.image_index, samples.image_index[rows])
    np.testing.assert_array_equal(streamed.label, samples.labels[rows].numpy())


@pytest.mark.parametrize("arch", ["gmn", "mlp"])
def test_a_dump_reads_each_shard_once_and_frees_it_before_the_next(
    tiny, models, ordered_shards, tmp_path, monkeypatch, arch  # noqa: F811
):
    real_read, weight_refs, alive_at_read = shards.read, [], []

    def read(path):
        alive_at_read.append(sum(ref() is not None for ref in weight_refs))
        shard = real_read(path)
        weight_refs.extend(weakref.ref(array) for pair in shard.weights for array in pair)
        return shard

    monkeypatch.setattr(shards, "read", read)
    activations.dump(models[arch], tiny[0], ordered_shards, tmp_path / "dump.h5", probe_size=None, probe_seed=0, batch_size=4)
    assert alive_at_read == [0] * len(ordered_shards)


def _copy_without(src, dst, damage):
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        damage(f)
    return dst


def test_a_dump_with_a_missing_layer_is_refused_naming_file_and_layer(dumps, tmp_path):
    def drop_layer_2(f):
        del f["layers/2"]

    bad = _copy_without(dumps["mlp"], tmp_path / "bad.h5", drop_layer_2)
    with pytest.raises(DataError, match="layers/2") as info:
        activation_dump.read(bad)
    assert str(bad) in str(info.value)


def test_a_dump_with_nan_features_is_refused(dumps, tmp_path):
    def poison(f):
        f["layers/1"][0, 0] = np.nan

    bad = _copy_without(dumps["mlp"], tmp_path / "nan.h5", poison)
    with pytest.raises(DataError, match="layers/1 contains NaN"):
        activation_dump.read(bad)


def test_the_paper_pairs():
    assert pairs.seed_pairs([0, 1, 2, 3, 4]) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]
    assert pairs.seed_pairs([0, 1]) == [(0, 1)] and pairs.seed_pairs([7]) == []
    compared = pairs.model_pairs(["gmn", "mlp", "cnn"], [0, 1, 2, 3, 4])
    assert len(compared) == 30 and len(set(compared)) == 30
    assert (("gmn", 2), ("mlp", 2)) in compared and (("mlp", 4), ("mlp", 0)) in compared
    assert {pairs.pairing(p) for p in compared} == {"gmn-gmn", "mlp-mlp", "cnn-cnn", "gmn-mlp", "gmn-cnn", "mlp-cnn"}
    assert pairs.pair_name((("gmn", 0), ("cnn", 0))) == "gmn-0__cnn-0"


@pytest.mark.parametrize("estimator", ["linear", "minibatch"])
def test_a_pair_table_from_prepared_operands(dumps, tmp_path, estimator):
    operands = {}
    for arch in ("gmn", "mlp"):
        operands[arch] = tmp_path / f"{arch}-op.h5"
        similarity.write_operands(dumps[arch], operands[arch], estimator=estimator, minibatch_size=4, seed=0)
    out = tmp_path / "gmn-0__mlp-0.csv"
    similarity.write_pair_table(operands["gmn"], operands["mlp"], out)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["layer_a"]), int(r["layer_b"])) for r in rows] == [(a, b) for a in (1, 2, 3) for b in (1, 2, 3)]
    assert {r["estimator"] for r in rows} == {estimator} and {r["model_a"] for r in rows} == {"gmn-0"}
    values = np.array([float(r["cka"]) for r in rows])
    assert np.all(np.isfinite(values)) and np.all(values <= 1 + 1e-9)
    if estimator == "linear":
        assert np.all(values >= 0)
    same = similarity.pair_rows(operands["mlp"], operands["mlp"])
    assert all(abs(r["cka"] - 1) < 1e-9 for r in same if r["layer_a"] == r["layer_b"])


def test_operands_of_different_probe_samples_are_refused(dumps, tmp_path):
    a = tmp_path / "a.h5"
    similarity.write_operands(dumps["gmn"], a, estimator="linear", minibatch_size=4, seed=0)
    b = _copy_without(a, tmp_path / "b.h5", lambda f: f["image_index"].__setitem__(0, 999))
    with pytest.raises(DataError, match="different samples"):
        similarity.pair_rows(a, b)
