"""export.py: shards written in the neural-graphs layout import back, through the workflow's own
import of that layout (gmnrep.inr.standard_sets), as the same INRs bit for bit; an export is
whole or absent."""

import json
import re

import numpy as np
import pytest
import torch

from conftest import DWSNETS_RECIPE
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file, splits
from gmnrep.inr import export, shards, siren, standard_sets
from gmnrep.provenance import cli
from test_standard_sets import NUM_TRAIN, SPLIT_SIZES, dataset, import_into  # noqa: F401 (dataset: a fixture)

SHARD_SIZE = 10


def write_shards(data_path, folder, seed=0) -> list:
    """The data file's images as the pipeline's shards (of SHARD_SIZE, in a shuffled order), with
    the standard set's split sizes (validation drawn from the official training images) and
    random float32 weights: any value must come back, not just a fitted one."""
    data, _ = dataset_file.read(data_path)
    rng = np.random.default_rng(seed)
    split = data.split.copy()
    split[rng.choice(NUM_TRAIN, size=SPLIT_SIZES["val"], replace=False)] = splits.VAL
    sizes = siren.SirenRecipe.from_config(DWSNETS_RECIPE).layer_sizes(data.channels)
    order = rng.permutation(len(data))
    num_shards = -(-len(order) // SHARD_SIZE)
    paths = []
    for k in range(num_shards):
        rows = order[k * SHARD_SIZE : (k + 1) * SHARD_SIZE]
        weights = [
            (
                rng.standard_normal((len(rows), fan_out, fan_in)).astype(np.float32),
                rng.standard_normal((len(rows), fan_out)).astype(np.float32),
            )
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
        ]
        shard = shards.Shard(
            weights=weights,
            image_index=rows.astype(np.int64),
            label=data.labels[rows],
            split=split[rows],
            psnr=np.zeros(len(rows)),
            steps=np.zeros(len(rows), dtype=np.int64),
            attrs={"layer_sizes": sizes, "shard": k, "num_shards": num_shards},
        )
        paths.append(folder / f"shard-{k}.h5")
        shards.write(paths[-1], shard)
    return paths


def by_image(paths) -> dict:
    """Each INR of the shards by its image: its weights, label and split."""
    inrs = {}
    for shard in map(shards.read, paths):
        for row, image in enumerate(shard.image_index.tolist()):
            weights = [(w[row], b[row]) for w, b in shard.weights]
            inrs[image] = (weights, int(shard.label[row]), int(shard.split[row]))
    return inrs


def leftovers(output):
    return sorted(output.parent.glob(f".{output.name}.*"))


@pytest.fixture
def shard_paths(dataset, tmp_path):  # noqa: F811
    (tmp_path / "shards").mkdir()
    return write_shards(dataset, tmp_path / "shards")


def test_an_export_imports_back_bit_for_bit(dataset, shard_paths, tmp_path):  # noqa: F811
    output = tmp_path / "fmnist_inrs"
    counts = export.export_neural_graphs(shard_paths, output, NUM_TRAIN)
    assert counts == SPLIT_SIZES
    (tmp_path / "imported").mkdir()
    imported = import_into("neural_graphs", output, dataset, tmp_path / "imported", shard_size=SHARD_SIZE)
    original, back = by_image(shard_paths), by_image(imported)
    assert sorted(back) == sorted(original) == list(range(NUM_TRAIN + 8))
    for image, (weights, label, split) in original.items():
        back_weights, back_label, back_split = back[image]
        assert (back_label, back_split) == (label, split)
        for (w, b), (w_back, b_back) in zip(weights, back_weights, strict=True):
            assert w_back.dtype == w.dtype and np.array_equal(w_back, w) and np.array_equal(b_back, b)
    assert leftovers(output) == []


def test_the_files_are_as_the_references_read_them(shard_paths, tmp_path):
    """The references collect a file's weights and biases in the dict's order and read `label` as
    an int; splits.json lists each split's files by image; a tensor holds its INR alone (a view of
    the stacked shard would save every INR of the shard in each file)."""
    output = tmp_path / "fmnist_inrs"
    export.export_neural_graphs(shard_paths, output, NUM_TRAIN)
    listing = json.loads((output / "splits.json").read_text())
    assert list(listing) == ["train", "val", "test"]
    assert [len(listing[name]) for name in listing] == list(SPLIT_SIZES.values())
    assert listing["test"] == [f"test/model_{i}.pth" for i in range(8)]
    state = torch.load(output / listing["val"][0], weights_only=True)
    assert list(state) == [key for pair in standard_sets.state_keys("neural_graphs", 3) for key in pair] + ["label"]
    assert isinstance(state["label"], int)
    weight = state["seq.1.weight"]
    assert weight.shape == (32, 32) and weight.untyped_storage().nbytes() == weight.numel() * weight.element_size()


def test_an_occupied_output_folder_is_refused_by_name(shard_paths, tmp_path):
    output = tmp_path / "fmnist_inrs"
    output.mkdir()
    (output / "mine.txt").write_text("a user's file")
    with pytest.raises(DataError, match=re.escape(f"{output}: exists and is not an empty folder")):
        export.export_neural_graphs(shard_paths, output, NUM_TRAIN)
    assert [p.name for p in output.iterdir()] == ["mine.txt"] and leftovers(output) == []


def test_an_empty_output_folder_is_filled(shard_paths, tmp_path):
    output = tmp_path / "fmnist_inrs"
    output.mkdir()
    export.export_neural_graphs(shard_paths, output, NUM_TRAIN)
    assert (output / "splits.json").is_file()


def fail_on_the_fifth_file(monkeypatch, paths):
    """torch.save failing midway (a full disk), after four INRs' files are written."""
    save, calls = torch.save, []

    def failing_save(obj, path):
        calls.append(path)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        save(obj, path)

    monkeypatch.setattr(export.torch, "save", failing_save)
    return "No space left on device"


def drop_a_shard(monkeypatch, paths):
    del paths[1]
    return "shard 1 of the set is not among those given"


def repeat_an_image(monkeypatch, paths):
    shard = shards.read(paths[2])
    shard.image_index[0] = shards.read(paths[0]).image_index[3]
    shards.write(paths[2], shard)
    return "shard-2.h5: a second INR of image"


@pytest.mark.parametrize("failure", [fail_on_the_fifth_file, drop_a_shard, repeat_an_image])
def test_a_failure_midway_leaves_no_output_folder(failure, shard_paths, tmp_path, monkeypatch):
    output = tmp_path / "fmnist_inrs"
    message = failure(monkeypatch, shard_paths)
    with pytest.raises((DataError, OSError), match=message):
        export.export_neural_graphs(shard_paths, output, NUM_TRAIN)
    assert not output.exists() and leftovers(output) == []


def test_the_command_exports_and_refuses_an_occupied_folder(shard_paths, tmp_path, capsys):
    output = tmp_path / "digits_inrs"
    arguments = ["export-inrs", "--dataset", "digits", str(output), *map(str, shard_paths)]
    assert cli.main(arguments) == 0
    assert f"{output}: 24 INRs of digits (12 train, 4 val, 8 test)" in capsys.readouterr().out
    # digits has no official test set: every INR is one of its official training images
    assert sorted(p.name for p in output.iterdir()) == ["splits.json", "test", "train"]
    assert len(list((output / "train").iterdir())) == 24 and not any((output / "test").iterdir())
    assert cli.main(arguments) == 2
    assert f"gmnrep export-inrs: {output}: exists and is not an empty folder" in capsys.readouterr().err
