"""Activation dumps, the pairs compared, and CKA pair tables from dumps."""

import csv
import itertools
import weakref

import h5py
import numpy as np
import pytest
import torch

from gmnrep.core.errors import DataError
from gmnrep.data.splits import TEST
from gmnrep.inr import shards
from gmnrep.models import checkpoints
from gmnrep.models.samples import index_shards, load_samples
from gmnrep.representations import cka, dump_file, extract, pairs, similarity
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
        extract.dump(model_path, data_path, shard_paths, out, probe_size=None, probe_seed=0, batch_size=5)
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
    loaded = {arch: dump_file.read(path) for arch, path in dumps.items()}
    for dump in loaded.values():
        np.testing.assert_array_equal(dump.image_index, test)
        np.testing.assert_array_equal(dump.label, data.labels[test])
    np.testing.assert_array_equal(loaded["gmn"].image_index, loaded["mlp"].image_index)


def test_a_dump_holds_every_representation_layer_and_the_logits(dumps):
    dump = dump_file.read(dumps["cnn"])
    assert dump.attrs["num_layers"] == len(dump.layers) == 3  # two blocks and the penultimate layer
    n = len(dump.image_index)
    assert all(layer.dtype == np.float32 and layer.shape[0] == n for layer in dump.layers)
    assert dump.logits.shape == (n, 10) and dump.attrs["arch"] == "cnn"


def test_a_probe_subset_is_seeded_sorted_and_shared(tiny):  # noqa: F811

    data_path, shard_paths, _, _ = tiny
    gmn = load_samples("gmn", data_path, shard_paths)
    mlp = load_samples("mlp", data_path, shard_paths)
    rows = extract.probe_rows(gmn, 4, probe_seed=3)
    assert len(rows) == 4 and np.all(np.diff(gmn.image_index[rows]) > 0)
    np.testing.assert_array_equal(rows, extract.probe_rows(mlp, 4, probe_seed=3))
    assert not np.array_equal(rows, extract.probe_rows(gmn, 4, probe_seed=4))


@pytest.mark.parametrize("arch", ["gmn", "cnn"])
@pytest.mark.parametrize("probe_size", [None, 5])
@pytest.mark.parametrize("ordered", [False, True], ids=["shards-unordered", "shards-in-image-order"])
def test_a_streamed_dump_equals_one_computed_from_all_samples_at_once(
    tiny,
    models,
    ordered_shards,
    tmp_path,
    arch,
    probe_size,
    ordered,  # noqa: F811
):
    data_path = tiny[0]
    shard_paths = ordered_shards if ordered else tiny[1]
    out = tmp_path / "dump.h5"
    extract.dump(models[arch], data_path, shard_paths, out, probe_size=probe_size, probe_seed=1, batch_size=3)
    streamed = dump_file.read(out)

    model, _ = checkpoints.load(models[arch], torch.device("cpu"))
    samples = load_samples(arch, data_path, shard_paths)
    rows = extract.probe_rows(samples, probe_size, probe_seed=1)
    layers, logits = extract.compute(model, samples, rows, batch_size=3, name="reference")

    shard_of_row = np.searchsorted(index_shards(data_path, shard_paths).starts, rows, side="right")
    assert len(set(shard_of_row)) > 1  # precondition: the probe samples span shards
    assert len(streamed.layers) == len(layers)
    for got, expected in zip(streamed.layers, layers):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(streamed.logits, logits)
    np.testing.assert_array_equal(streamed.image_index, samples.image_index[rows])
    np.testing.assert_array_equal(streamed.label, samples.labels[rows].numpy())


@pytest.mark.parametrize("arch", ["gmn", "mlp"])
def test_a_dump_reads_each_shard_once_and_frees_it_before_the_next(
    tiny,
    models,
    ordered_shards,
    tmp_path,
    monkeypatch,
    arch,  # noqa: F811
):
    real_read, weight_refs, alive_at_read = shards.read, [], []

    def read(path):
        alive_at_read.append(sum(ref() is not None for ref in weight_refs))
        shard = real_read(path)
        weight_refs.extend(weakref.ref(array) for pair in shard.weights for array in pair)
        return shard

    monkeypatch.setattr(shards, "read", read)
    extract.dump(
        models[arch], tiny[0], ordered_shards, tmp_path / "dump.h5", probe_size=None, probe_seed=0, batch_size=4
    )
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
        dump_file.read(bad)
    assert str(bad) in str(info.value)


def test_a_dump_with_nan_features_is_refused(dumps, tmp_path):
    def poison(f):
        f["layers/1"][0, 0] = np.nan

    bad = _copy_without(dumps["mlp"], tmp_path / "nan.h5", poison)
    with pytest.raises(DataError, match="layers/1 contains NaN"):
        dump_file.read(bad)


def test_the_paper_pairs():
    assert pairs.seed_pairs([0, 1, 2, 3, 4]) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]
    assert pairs.seed_pairs([0, 1]) == [(0, 1)] and pairs.seed_pairs([7]) == []
    compared = pairs.model_pairs(["gmn", "mlp", "cnn"], [0, 1, 2, 3, 4])
    assert len(compared) == 30 and len(set(compared)) == 30
    assert (("gmn", 2), ("mlp", 2)) in compared and (("mlp", 4), ("mlp", 0)) in compared
    assert {pairs.pairing(p) for p in compared} == {"gmn-gmn", "mlp-mlp", "cnn-cnn", "gmn-mlp", "gmn-cnn", "mlp-cnn"}
    assert pairs.pair_name((("gmn", 0), ("cnn", 0))) == "gmn-0__cnn-0"


def test_all_pairs_of_five_seeds_are_every_seed_pair_within_and_every_ordered_pair_across():
    archs, seeds = ["gmn", "mlp", "cnn"], [0, 1, 2, 3, 4]
    compared = pairs.model_pairs(archs, seeds, scheme="all")
    assert len(compared) == 105 and len(set(compared)) == 105
    counts = {}
    for pair in compared:
        counts[pairs.pairing(pair)] = counts.get(pairs.pairing(pair), 0) + 1
    assert counts == {"gmn-gmn": 10, "mlp-mlp": 10, "cnn-cnn": 10, "gmn-mlp": 25, "gmn-cnn": 25, "mlp-cnn": 25}
    # within first, then across, in the order of the architectures
    assert [pairs.pairing(p) for p in compared[:30]] == [f"{a}-{a}" for a in archs for _ in range(10)]
    # within an architecture: each unordered seed pair exactly once, never a model with itself
    for arch in archs:
        within = [frozenset((a, b)) for (x, a), (y, b) in compared if x == y == arch]
        assert len(within) == len(set(within)) == 10
        assert set(within) == {frozenset(p) for p in itertools.combinations(seeds, 2)}
    # across: every ordered seed pair (a, b), the same-seed ones first
    gmn_mlp = [(a, b) for (x, a), (y, b) in compared if (x, y) == ("gmn", "mlp")]
    assert set(gmn_mlp) == set(itertools.product(seeds, seeds)) and gmn_mlp[:5] == [(s, s) for s in seeds]
    # the paper's pairs, under the same names (orientation included)
    cyclic = pairs.model_pairs(archs, seeds)
    names = {pairs.pair_name(p) for p in compared}
    assert all(p in compared for p in cyclic) and {pairs.pair_name(p) for p in cyclic} <= names
    assert "gmn-4__gmn-0" in names and "gmn-0__gmn-4" not in names


def test_all_pairs_of_two_seeds_and_of_one():
    compared = pairs.model_pairs(["gmn", "mlp"], [3, 8], scheme="all")
    within = [p for p in compared if pairs.pairing(p) == "gmn-gmn"]
    across = [p for p in compared if pairs.pairing(p) == "gmn-mlp"]
    assert within == [(("gmn", 3), ("gmn", 8))] and len(compared) == 1 + 1 + 4
    assert across == [
        (("gmn", 3), ("mlp", 3)),
        (("gmn", 8), ("mlp", 8)),
        (("gmn", 3), ("mlp", 8)),
        (("gmn", 8), ("mlp", 3)),
    ]
    assert pairs.model_pairs(["gmn", "mlp"], [7], scheme="all") == [(("gmn", 7), ("mlp", 7))]


@pytest.mark.parametrize("scheme", ["every", "ALL", "", None])
def test_an_unknown_pair_scheme_is_refused(scheme):
    with pytest.raises(ValueError, match="pair scheme must be one of cyclic, all"):
        pairs.model_pairs(["gmn", "mlp"], [0, 1], scheme=scheme)


@pytest.mark.parametrize("estimator", ["linear", "minibatch"])
def test_a_pair_table_from_prepared_operands(dumps, tmp_path, estimator):
    operands = {}
    for arch in ("gmn", "mlp"):
        operands[arch] = tmp_path / f"{arch}-op.h5"
        chance = tmp_path / f"{arch}-chance.csv"
        similarity.write_operands(dumps[arch], operands[arch], chance, estimator=estimator, minibatch_size=4, seed=0)
    out, blocks = tmp_path / "gmn-0__mlp-0.csv", tmp_path / "gmn-0__mlp-0.blocks.csv"
    similarity.write_pair_table(operands["gmn"], operands["mlp"], out, blocks, layers=[1, 3], probe_blocks=4, seed=0)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    with open(blocks) as f:
        block_rows = list(csv.DictReader(f))
    assert [(int(r["layer"]), int(r["block"])) for r in block_rows] == [(l, j) for l in (1, 3) for j in range(4)]
    assert tuple(block_rows[0]) == similarity.BLOCK_COLUMNS and {r["model_b"] for r in block_rows} == {"mlp-0"}
    assert [(int(r["layer_a"]), int(r["layer_b"])) for r in rows] == [(a, b) for a in (1, 2, 3) for b in (1, 2, 3)]
    assert {r["estimator"] for r in rows} == {estimator} and {r["model_a"] for r in rows} == {"gmn-0"}
    values = np.array([float(r["cka"]) for r in rows])
    assert np.all(np.isfinite(values)) and np.all(values <= 1 + 1e-9)
    if estimator == "linear":
        assert np.all(values >= 0)
    same, same_blocks = similarity.pair_rows(operands["mlp"], operands["mlp"], [1, 2, 3], 4, 0)
    assert all(abs(r["cka"] - 1) < 1e-9 for r in same if r["layer_a"] == r["layer_b"])
    # (with batches of 4, a minibatch block may leave no full batch: NaN, which the claims leave out)
    without = np.array([r["cka_without_block"] for r in same_blocks])
    assert np.isfinite(without).any() and np.all(np.abs(without[np.isfinite(without)] - 1) < 1e-9)
    with open(tmp_path / "gmn-chance.csv") as f:
        chance = list(csv.DictReader(f))
    assert [int(r["layer"]) for r in chance] == [1, 2, 3] and {r["estimator"] for r in chance} == {estimator}


def test_operands_of_different_probe_samples_are_refused(dumps, tmp_path):
    a = tmp_path / "a.h5"
    similarity.write_operands(dumps["gmn"], a, tmp_path / "a-chance.csv", estimator="linear", minibatch_size=4, seed=0)
    b = _copy_without(a, tmp_path / "b.h5", lambda f: f["image_index"].__setitem__(0, 999))
    with pytest.raises(DataError, match="different samples"):
        similarity.pair_rows(a, b, [1], 4, 0)


# --- the chance floor of a layer (written beside the operands) ---------------------------------


def random_dump(path, arch, seed, widths=(8, 16, 4), n=400, data_seed=0):
    """An activation dump with Gaussian layers (n samples, many relative to the widths)."""
    rng = np.random.default_rng(data_seed)
    dump = dump_file.ActivationDump(
        layers=[rng.normal(size=(n, w)).astype(np.float32) for w in widths],
        image_index=np.arange(n, dtype=np.int64),
        label=np.arange(n, dtype=np.int64) % 10,
        logits=rng.normal(size=(n, 10)).astype(np.float32),
        attrs={"dataset": "digits", "arch": arch, "seed": seed, "num_layers": len(widths)},
    )
    dump_file.write(path, dump)
    return path


def chance_rows(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_networks_of_different_depths_are_compared_aligned_at_the_top(tmp_path):
    """A 2-layer network whose layers are the 3-layer one's layers 2 and 3: compared layers 2 and 3
    (numbered as in the 3-layer network) are its layers 1 and 2, so each block value is CKA = 1;
    compared layer 1 is none of its layers, refused naming both files."""
    deep = random_dump(tmp_path / "deep.h5", "gmn", 0)
    shallow_dump = dump_file.read(deep)
    shallow_dump.layers = shallow_dump.layers[1:]
    shallow_dump.attrs = {**shallow_dump.attrs, "arch": "scalegmn", "num_layers": 2}
    dump_file.write(tmp_path / "shallow.h5", shallow_dump)
    operands = {}
    for name in ("deep", "shallow"):
        operands[name] = tmp_path / f"{name}-op.h5"
        similarity.write_operands(
            tmp_path / f"{name}.h5", operands[name], tmp_path / f"{name}-chance.csv",
            estimator="linear", minibatch_size=4, seed=0,
        )  # fmt: skip
    rows, block_rows = similarity.pair_rows(operands["deep"], operands["shallow"], [2, 3], 4, 0, deepest=3)
    assert {(r["layer_a"], r["layer_b"]) for r in rows} == {(a, b) for a in (1, 2, 3) for b in (1, 2)}
    assert [r["layer"] for r in block_rows] == [2] * 4 + [3] * 4
    assert all(abs(r["cka_without_block"] - 1) < 1e-9 for r in block_rows)
    _, unaligned = similarity.pair_rows(operands["deep"], operands["shallow"], [2], 4, 0)  # each its own numbering
    assert all(r["cka_without_block"] < 0.5 for r in unaligned)
    with pytest.raises(DataError, match="layer 1 .* 2-layer network") as info:
        similarity.pair_rows(operands["deep"], operands["shallow"], [1, 3], 4, 0, deepest=3)
    assert str(operands["deep"]) in str(info.value) and str(operands["shallow"]) in str(info.value)


@pytest.mark.parametrize("estimator", ["linear", "minibatch"])
def test_the_chance_floor_of_a_random_layer_is_far_below_its_cka_with_itself(tmp_path, estimator):
    dump = random_dump(tmp_path / "seed-3.h5", "mlp", 3)
    operands, chance = tmp_path / "mlp-3.h5", tmp_path / "chance" / "mlp-3.csv"
    similarity.write_operands(dump, operands, chance, estimator=estimator, minibatch_size=50, seed=0)
    columns, rows = chance_rows(chance)
    assert tuple(columns) == similarity.CHANCE_COLUMNS
    assert [int(r["layer"]) for r in rows] == [1, 2, 3]
    assert {r["model"] for r in rows} == {"mlp-3"} and {r["dataset"] for r in rows} == {"digits"}
    assert {r["estimator"] for r in rows} == {estimator} and {r["probe_size"] for r in rows} == {"400"}
    itself, _ = similarity.pair_rows(operands, operands, [1], 4, 0)
    for row in rows:
        floor = float(row["chance_cka"])
        self_cka = next(r["cka"] for r in itself if r["layer_a"] == r["layer_b"] == int(row["layer"]))
        assert self_cka == pytest.approx(1, abs=1e-9)
        assert np.isfinite(floor) and abs(floor) < 0.2 and floor < self_cka - 0.8, row


def test_the_linear_chance_floor_is_the_mean_over_all_permutations():
    """The closed form against the mean of 20 000 random permutations, on a layer with structure
    (unequal feature scales, a shared direction): the mean over permutations depends on the spectrum."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5)) * [5, 2, 1, 0.5, 0.1] + rng.normal(size=(30, 1))
    shuffled = [cka.linear_cka(X, X[rng.permutation(30)]) for _ in range(20_000)]
    standard_error = np.std(shuffled) / np.sqrt(len(shuffled))
    closed_form = cka.permutation_mean(cka.prepare(X))
    assert abs(closed_form - np.mean(shuffled)) < 4 * standard_error
    assert standard_error < 0.01 * closed_form  # precise enough to tell a wrong formula apart
    # more features than samples: the factor comes from the Gram matrix, the value is the same
    wide = rng.normal(size=(12, 40))
    centred = wide - wide.mean(axis=0)
    itself = cka.LinearOperand(centred, float(np.linalg.norm(centred @ centred.T)))
    assert cka.permutation_mean(cka.prepare(wide)) == pytest.approx(cka.permutation_mean(itself))


def test_the_minibatch_chance_floor_is_the_mean_of_seeded_shuffles(tmp_path):
    def floor(seed: int) -> str:
        dump = random_dump(tmp_path / f"seed-{seed}.h5", "gmn", seed, widths=(6,), n=120)
        chance = tmp_path / f"gmn-{seed}.csv"
        similarity.write_operands(dump, tmp_path / "op.h5", chance, estimator="minibatch", minibatch_size=40, seed=5)
        (row,) = chance_rows(chance)[1]
        return row["chance_cka"]

    layer = np.asarray(dump_file.read(random_dump(tmp_path / "layer.h5", "gmn", 2, widths=(6,), n=120)).layers[0])
    rng = np.random.default_rng(similarity.shuffle_seed(5, "gmn-2"))
    shuffles = [rng.permutation(120) for _ in range(similarity.CHANCE_SHUFFLES)]
    expected = np.mean([cka.minibatch_cka(layer, layer[order], 40, seed=5) for order in shuffles])
    assert float(floor(2)) == pytest.approx(expected, rel=1e-6)
    assert floor(2) == floor(2) and floor(3) != floor(2)  # the same layers, another model id's shuffles
