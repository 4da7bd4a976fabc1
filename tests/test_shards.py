import csv

import h5py
import numpy as np
import pytest
import torch

from conftest import DWSNETS_RECIPE
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file, formats, splits
from gmnrep.inr import planning, shard_fitting, shards, siren, statistics
from gmnrep.inr.siren import SirenRecipe

RECIPE = {**DWSNETS_RECIPE, "max_steps": 60}


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.h5"
    dataset_file.prepare([formats.digits_source_file()], path, "digits", validation_size=180, test_size=360, seed=0)
    return path


def fit(digits_file, out, shard, subset=None, shard_size=10, num_shards=3):
    return shard_fitting.fit_shard(
        digits_file,
        out,
        shard,
        recipe=RECIPE,
        seed=0,
        shard_size=shard_size,
        num_shards=num_shards,
        subset=subset or {"train": 15, "val": 5, "test": 5},
        subset_seed=0,
        fit_batch_size={"cpu": 8, "cuda": 8},
        device="cpu",
    )


def test_shards_partition_the_selected_images():
    split = splits.assign_splits(1797, 0, 180, 360, seed=0)
    limits = {"train": 30, "val": 7, "test": None}
    selected = splits.select_subset(split, limits, seed=0)
    sizes = splits.split_sizes(1797, 0, 180, 360)
    n = planning.shard_count(sizes, limits, shard_size=50)
    assert n == int(np.ceil((30 + 7 + 360) / 50))
    members = [planning.shard_members(selected, k, 50) for k in range(n)]
    assert all(len(m) > 0 for m in members)
    np.testing.assert_array_equal(np.concatenate(members), selected)


def test_round_trip_and_reloaded_weights_reproduce_the_stored_psnr(digits_file, tmp_path):
    out = tmp_path / "shard-1.h5"
    written = fit(digits_file, out, shard=1)
    shard = shards.read(out)
    np.testing.assert_array_equal(shard.image_index, written.image_index)
    assert len(shard.image_index) == 10
    assert [w.shape for w, _ in shard.weights] == [(10, 32, 2), (10, 32, 32), (10, 1, 32)]
    data, _ = dataset_file.read(digits_file)
    np.testing.assert_array_equal(shard.label, data.labels[shard.image_index])
    np.testing.assert_array_equal(shard.split, data.split[shard.image_index])
    assert shard.attrs["recipe.w0"] == 30.0 and shard.attrs["seed"] == 0 and shard.attrs["device"] == "cpu"
    # reload into a SIREN, evaluate from scratch, compare with the stored PSNR
    recipe = SirenRecipe.from_config(RECIPE)
    params = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in shard.weights]
    images = data.images[shard.image_index]
    outputs = siren.forward(params, siren.coordinate_grid(8, 8, order=recipe.coordinates), recipe)
    reloaded = siren.psnr(outputs, siren.image_targets(images, recipe), recipe.data_range).numpy()
    np.testing.assert_allclose(reloaded, shard.psnr, atol=1e-3)
    assert np.all(shard.steps <= RECIPE["max_steps"])


def test_a_data_file_that_does_not_match_the_planned_shards_is_refused(digits_file, tmp_path):
    with pytest.raises(DataError, match="planned 4"):
        fit(digits_file, tmp_path / "shard-0.h5", shard=0, num_shards=4)
    assert not (tmp_path / "shard-0.h5").exists()


def test_read_refuses_nan_weights_and_missing_datasets(digits_file, tmp_path):
    out = tmp_path / "shard-0.h5"
    fit(digits_file, out, shard=0)
    with h5py.File(out, "r+") as f:
        f["weights/1/W"][0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"shard-0\.h5: weights/1 contain NaN"):
        shards.read(out)
    with h5py.File(out, "r+") as f:
        del f["psnr"]
    with pytest.raises(DataError, match=r"shard-0\.h5: missing dataset\(s\) psnr"):
        shards.read(out)
    out.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        shards.read(out)


def test_summary_counts_every_split(digits_file, tmp_path):
    paths = [tmp_path / f"shard-{k}.h5" for k in range(3)]
    for k, p in enumerate(paths):
        fit(digits_file, p, shard=k)
    rows = shards.write_summary(paths, tmp_path / "summary.csv", target_psnr=40.0)
    by_split = {r["split"]: r for r in rows}
    assert by_split["train"]["inrs"] == 15 and by_split["val"]["inrs"] == 5 and by_split["test"]["inrs"] == 5
    assert by_split["all"]["inrs"] == 25
    assert (tmp_path / "summary.csv").read_text().splitlines()[0].startswith("split,inrs,psnr_mean")


def test_weight_statistics_of_all_shards_beside_the_published_ones(digits_file, tmp_path):
    paths = [tmp_path / f"shard-{k}.h5" for k in range(2)]
    for k, p in enumerate(paths):
        fit(digits_file, p, shard=k)
    out = tmp_path / "weight_statistics.csv"
    shards.write_summary(paths, tmp_path / "summary.csv", 40.0, statistics_output=out, reference_set="ng_fashion_mnist")
    rows = list(csv.DictReader(out.open()))
    assert [(r["layer"], r["param"]) for r in rows] == [(str(l), p) for l in range(3) for p in "Wb"]
    parts = [shards.read(p) for p in paths]
    w1 = np.concatenate([s.weights[1][0] for s in parts]).astype(np.float64)
    assert float(rows[2]["std"]) == pytest.approx(w1.std(), rel=1e-5)
    published = statistics.PUBLISHED["ng_fashion_mnist"]["W"][1][1]
    assert float(rows[2]["published_std"]) == pytest.approx(published, rel=1e-5)
    assert float(rows[2]["std_ratio"]) == pytest.approx(w1.std() / published, rel=1e-4)
    # a dataset without a published set gets the statistics alone
    shards.write_summary(paths, tmp_path / "summary.csv", 40.0, statistics_output=out, reference_set=None)
    assert out.read_text().splitlines()[0] == "layer,param,mean,std"
