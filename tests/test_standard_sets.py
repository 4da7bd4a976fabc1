"""standard_sets.py: the standard INR sets imported as shards, on small archives written in each
set's exact layout (as the original code writes them) from INRs the pipeline's fitter made."""

import json
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DWSNETS_RECIPE, run, smoke_args
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import sha256_file
from gmnrep.data import dataset_file, splits
from gmnrep.inr import fitting, shards, siren, standard_sets
from gmnrep.inr.planning import shards_needed
from test_figures import smooth_images

NUM_TRAIN = 16  # the fixture's "official training images"; its test images follow them
NUM_TEST = 8
SPLIT_SIZES = {"train": 12, "val": 4, "test": 8}
NFN_RECIPE = {**DWSNETS_RECIPE, "init": "siren", "output_offset": 0.0, "target_range": [-1.0, 1.0], "coordinates": "ij"}
RECIPES = {"dwsnets": DWSNETS_RECIPE, "neural_graphs": DWSNETS_RECIPE, "nfn": NFN_RECIPE}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A data file of 24 images (16 official training, 8 test), labels 0..9 cycling."""
    path = tmp_path_factory.mktemp("data") / "data.h5"
    n = NUM_TRAIN + NUM_TEST
    split = np.array([splits.TRAIN] * NUM_TRAIN + [splits.TEST] * NUM_TEST, dtype=np.uint8)
    labels = (np.arange(n) * 3) % 10
    dataset_file.write(path, dataset_file.LabelledImages(smooth_images(n), labels, split), {})
    return path


@pytest.fixture(scope="module")
def fitted(dataset):
    """Every image's INR under each recipe, fitted by the pipeline's fitter (weights per INR, PSNR)."""
    data, _ = dataset_file.read(dataset)
    result = {}
    for layout, values in RECIPES.items():
        recipe = siren.SirenRecipe.from_config({**values, "max_steps": 40, "target_psnr": 99.0})
        fit = fitting.fit_batch(data.images, np.arange(len(data)), recipe, seed=0)
        inrs = [[(w[i], b[i]) for w, b in fit.weights] for i in range(len(data))]
        result[layout] = (inrs, fit.psnr)
    return result


def state_dict(layout, layers):
    keys = standard_sets.state_keys(layout, len(layers))
    state = OrderedDict()
    for (w_key, b_key), (w, b) in zip(keys, layers):
        state[w_key], state[b_key] = torch.from_numpy(w.copy()), torch.from_numpy(b.copy())
    return state


def write_archive(layout, folder, fitted, labels, nfn_order=None):
    """The INRs in `layout`'s exact layout; returns the image of each written file."""
    inrs, _ = fitted[layout]
    folder.mkdir(parents=True)
    written = {}
    if layout == "dwsnets":
        for image, layers in enumerate(inrs):
            kind, index = ("training", image) if image < NUM_TRAIN else ("testing", image - NUM_TRAIN)
            path = folder / f"mnist_png_{kind}_{labels[image]}_{index}/checkpoints/model_final.pth"
            path.parent.mkdir(parents=True)
            torch.save(state_dict(layout, layers), path)
            written[path] = image
    elif layout == "neural_graphs":
        listing = {"train": [], "val": [], "test": []}
        for image, layers in enumerate(inrs):
            kind, index = ("train", image) if image < NUM_TRAIN else ("test", image - NUM_TRAIN)
            path = folder / kind / f"model_{index}.pth"
            path.parent.mkdir(exist_ok=True)
            torch.save({**state_dict(layout, layers), "label": int(labels[image])}, path)
            split = "test" if kind == "test" else ("val" if image >= 12 else "train")
            listing[split].append(f"/original/machine/fmnist_inrs/{kind}/model_{index}.pth")
            written[path] = image
        (folder / "splits.json").write_text(json.dumps(listing))
    else:
        for image, layers in enumerate(inrs):
            path = folder / f"randinit_smaller_{labels[image]}s" / f"net{image}.pth"
            path.parent.mkdir(exist_ok=True)
            torch.save(state_dict(layout, layers), path)
            written[path] = image
    return written


@dataclass
class Archive:
    folder: Path
    by_image: dict[int, Path]  # image -> its INR's file
    labels: np.ndarray  # of every image of the data file
    out: Path  # an empty folder for the shards and manifest


def make_archive(layout, tmp_path, dataset, fitted) -> Archive:
    data, _ = dataset_file.read(dataset)
    written = write_archive(layout, tmp_path / "archive", fitted, data.labels)
    (tmp_path / "inrs").mkdir()
    return Archive(
        tmp_path / "archive", {image: path for path, image in written.items()}, data.labels, tmp_path / "inrs"
    )


def import_into(layout, archive, dataset, out, subset=None, splits_file=None, shard_size=10):
    """The workflow's import: the archive checked and its manifest written, then each shard."""
    sizes = splits.subset_sizes(SPLIT_SIZES, subset)
    num_shards = shards_needed(sum(sizes.values()), shard_size)
    manifest = out / "imported_files.csv"
    standard_sets.check_archive(
        layout=layout,
        folder=archive,
        split_sizes=SPLIT_SIZES,
        recipe=RECIPES[layout],
        num_official_train=NUM_TRAIN,
        data_path=dataset,
        manifest_path=manifest,
        subset=subset,
        subset_seed=0,
        split_seed=0,
        splits_file=splits_file,
    )
    paths = [out / f"shard-{k}.h5" for k in range(num_shards)]
    for k, path in enumerate(paths):
        standard_sets.import_shard(
            f"test_{layout}", layout, archive, RECIPES[layout], dataset, manifest, k, shard_size, num_shards, path
        )
    return paths


@pytest.mark.parametrize("layout", ["dwsnets", "neural_graphs", "nfn"])
def test_an_archive_becomes_shards_with_its_weights_split_labels_and_the_fitters_psnr(
    layout, dataset, fitted, tmp_path
):
    data, _ = dataset_file.read(dataset)
    archive = make_archive(layout, tmp_path, dataset, fitted)
    out = archive.out
    paths = import_into(layout, archive.folder, dataset, out)
    parts = [shards.read(p) for p in paths]
    assert [len(s.image_index) for s in parts] == [10, 10, 4]
    image_index = np.concatenate([s.image_index for s in parts])
    assert image_index.tolist() == list(range(24))  # ordered by image, each once
    np.testing.assert_array_equal(np.concatenate([s.label for s in parts]), data.labels)
    split = np.concatenate([s.split for s in parts])
    assert np.bincount(split, minlength=3).tolist() == [12, 4, 8]
    assert (split[NUM_TRAIN:] == splits.TEST).all()
    if layout != "dwsnets":  # neural-graphs lists its val INRs; NFN splits by index: both images 12..15
        assert (split[12:16] == splits.VAL).all()
    # the weights are the state dicts' tensors, in the pipeline's (out, in) orientation
    inrs, fitter_psnr = fitted[layout]
    for image in (0, 13, 23):
        shard, row = parts[image // 10], image % 10
        for (w, b), (w_expected, b_expected) in zip(shard.weights, inrs[image]):
            np.testing.assert_array_equal(w[row], w_expected)
            np.testing.assert_array_equal(b[row], b_expected)
    # the PSNR, recomputed against the raw image with the set's recipe, is the one the fitter measured
    np.testing.assert_allclose(np.concatenate([s.psnr for s in parts]), fitter_psnr, atol=1e-3)
    assert all((s.steps == standard_sets.UNKNOWN_STEPS).all() for s in parts)
    assert parts[0].attrs["standard_set"] == f"test_{layout}" and parts[0].attrs["recipe.coordinates"] in ("xy", "ij")
    assert parts[0].attrs["recipe.output_offset"] == RECIPES[layout]["output_offset"]
    # every file read is in the manifest with its sha256
    manifest = (out / "imported_files.csv").read_text().splitlines()
    assert manifest[0] == ",".join(standard_sets.MANIFEST_COLUMNS) and len(manifest) == 25
    first = archive.by_image[0]
    assert f"{first.relative_to(tmp_path / 'archive').as_posix()},{sha256_file(first)},0," in manifest[1]


def test_a_subset_of_each_split_is_imported_as_the_fitter_would_select_it(dataset, fitted, tmp_path):
    archive = make_archive("nfn", tmp_path, dataset, fitted)
    subset = {"train": 5, "val": 2, "test": 3}
    paths = import_into("nfn", archive.folder, dataset, archive.out, subset=subset)
    image_index = np.concatenate([shards.read(p).image_index for p in paths])
    split = np.array([splits.TRAIN] * 12 + [splits.VAL] * 4 + [splits.TEST] * 8, dtype=np.uint8)
    assert image_index.tolist() == splits.select_subset(split, subset, 0).tolist()


def test_dwsnets_validation_inrs_are_a_seeded_draw_or_those_a_splits_file_names(dataset, fitted, tmp_path):
    archive = make_archive("dwsnets", tmp_path, dataset, fitted)
    labels = archive.labels
    val = {}
    for name, splits_file in (("drawn", None), ("drawn again", None), ("listed", tmp_path / "splits.json")):
        if splits_file is not None:  # DWSNets' format, with another machine's absolute paths
            chosen = (1, 4, 7, 9)
            listed = [f"/x/mnist-inrs/mnist_png_training_{labels[i]}_{i}/checkpoints/model_final.pth" for i in chosen]
            splits_file.write_text(json.dumps({"val": {"path": listed, "label": [str(labels[i]) for i in chosen]}}))
        out = tmp_path / name
        out.mkdir()
        paths = import_into("dwsnets", archive.folder, dataset, out, splits_file=splits_file)
        parts = [shards.read(p) for p in paths]
        index, split = (np.concatenate([getattr(s, k) for s in parts]) for k in ("image_index", "split"))
        val[name] = sorted(index[split == splits.VAL].tolist())
    assert val["drawn"] == val["drawn again"] and len(val["drawn"]) == 4 and max(val["drawn"]) < NUM_TRAIN
    assert val["listed"] == [1, 4, 7, 9]


def _other_architecture(archive, by_image, labels):
    path = by_image[5]
    layers = [(np.zeros((16, 2), np.float32), np.zeros(16, np.float32))]
    layers += [
        (np.zeros((16, 16), np.float32), np.zeros(16, np.float32)),
        (np.zeros((1, 16), np.float32), np.zeros(1, np.float32)),
    ]
    torch.save(state_dict("nfn", layers), path)
    return f"{path.name}: net.0.linear.weight \\(16, 2\\)"


def _wrong_label(archive, by_image, labels):
    path = by_image[6]
    wrong = (labels[6] + 1) % 10
    target = archive / f"randinit_smaller_{wrong}s" / path.name
    target.parent.mkdir(exist_ok=True)
    shutil.move(path, target)
    return f"{target.name}: label {wrong}, but image 6 .* is a {labels[6]}"


def _augmented_copy_mixed_in(archive, by_image, labels):
    # NFN's augmented copy of net3 put beside the originals, under another label's folder
    path = by_image[3]
    copy = archive / f"randinit_smaller_{(labels[3] + 1) % 10}s" / path.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(path, copy)
    return "net3.pth: a second INR of image 3"


def _missing_image(archive, by_image, labels):
    by_image[20].unlink()
    return "archive: NFN numbers its INRs 0..N-1, and net20.pth is missing"


def _not_finite(archive, by_image, labels):
    path = by_image[2]
    state = torch.load(path, weights_only=True)
    state["net.1.linear.bias"][4] = float("nan")
    torch.save(state, path)
    return "net2.pth: net.1.linear.weight or net.1.linear.bias holds a value that is not finite"


def _stray_file(archive, by_image, labels):
    stray = by_image[1].parent / "net1_aug3.pth"
    shutil.copy(by_image[1], stray)
    return "net1_aug3.pth: not a file of this INR set's layout"


def _missing_folder(archive, by_image, labels):
    shutil.rmtree(archive)
    return "archive: no such folder"


def _not_a_checkpoint(archive, by_image, labels):
    by_image[9].write_bytes(b"this is not a torch file")
    return "net9.pth: not a readable state dict"


@pytest.mark.parametrize(
    "damage",
    [
        _missing_folder,
        _other_architecture,
        _wrong_label,
        _augmented_copy_mixed_in,
        _missing_image,
        _not_finite,
        _stray_file,
        _not_a_checkpoint,
    ],
)
def test_a_bad_archive_is_refused_naming_the_file_before_any_shard_is_written(damage, dataset, fitted, tmp_path):
    archive = make_archive("nfn", tmp_path, dataset, fitted)
    message = damage(archive.folder, archive.by_image, archive.labels)
    with pytest.raises(DataError, match=message):
        import_into("nfn", archive.folder, dataset, archive.out)
    assert list(archive.out.iterdir()) == []


def test_nfns_augmented_copies_in_their_own_folders_are_not_read(dataset, fitted, tmp_path):
    archive = make_archive("nfn", tmp_path, dataset, fitted)
    augmented = archive.folder / "randinit_smaller_aug1_3s"
    augmented.mkdir()
    shutil.copy(archive.by_image[0], augmented / "net0.pth")
    paths = import_into("nfn", archive.folder, dataset, archive.out)
    assert sum(len(shards.read(p).image_index) for p in paths) == 24


def test_neural_graphs_labels_are_read_from_the_files(dataset, fitted, tmp_path):
    archive = make_archive("neural_graphs", tmp_path, dataset, fitted)
    path = archive.folder / "test" / "model_2.pth"
    state = torch.load(path, weights_only=True)
    state["label"] = int((archive.labels[NUM_TRAIN + 2] + 5) % 10)
    torch.save(state, path)
    with pytest.raises(DataError, match=f"model_2.pth: label {state['label']}, but image {NUM_TRAIN + 2}"):
        import_into("neural_graphs", archive.folder, dataset, archive.out)


def test_an_archive_with_fewer_inrs_than_the_set_is_refused(dataset, fitted, tmp_path):
    archive = make_archive("dwsnets", tmp_path, dataset, fitted)
    shutil.rmtree(archive.by_image[20].parent.parent)
    with pytest.raises(DataError, match="archive: 7 test INRs, where the set has 8"):
        import_into("dwsnets", archive.folder, dataset, archive.out)
    assert list(archive.out.iterdir()) == []


@pytest.mark.e2e
def test_the_dag_runs_on_an_imported_set_instead_of_fitting(tmp_path):
    """A user unpacks an archive and names it in one config line: Snakemake imports it and trains on
    it (digits here, with a set of neural-graphs' layout made for the test; no INR is fitted)."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    base = smoke_args(workdir, "datasets=['digits']")
    run([*base, "--cores", "2", "results/smoke/data/digits.h5"], cwd=workdir)
    data, _ = dataset_file.read(workdir / "results/smoke/data/digits.h5")
    # 80 INRs of training images (the smoke preset's 48 / 16 / 16), SIRENs of the DWSNets recipe's
    # shape with their own random weights, each with its image's label, as neural-graphs writes them
    archive = tmp_path / "digits_inrs"
    (archive / "train").mkdir(parents=True)
    recipe = siren.SirenRecipe.from_config(DWSNETS_RECIPE)
    params = siren.init_params(recipe, 1, seed=1, image_indices=np.arange(80))
    listing = {"train": [], "val": [], "test": []}
    for i in range(80):
        layers = [(w[i].numpy(), b[i].numpy()) for w, b in params]
        torch.save(
            {**state_dict("neural_graphs", layers), "label": int(data.labels[i])}, archive / f"train/model_{i}.pth"
        )
        listing["train" if i < 48 else "val" if i < 64 else "test"].append(f"digits_inrs/train/model_{i}.pth")
    (archive / "splits.json").write_text(json.dumps(listing))
    imported = tmp_path / "imported.yaml"
    imported.write_text(
        "inr:\n"
        "  standard_sets:\n"
        "    test_digits: {dataset: digits, layout: neural_graphs, recipe: dwsnets,"
        " split_sizes: {train: 48, val: 16, test: 16}}\n"
        f"  imported: {{digits: {{set: test_digits, folder: {archive}}}}}\n"
        # one network that reads the INRs and one that reads the images, one seed each: Table 1 compares them
        "models: {architectures: [gmn, mlp], seeds: [0], matched: {architectures: []}}\n"
    )
    args = [*base[: base.index("--config")], str(imported), *base[base.index("--config") :]]
    targets = ["results/smoke/tables/table1.csv", "results/smoke/inrs/digits/summary.csv"]
    proc = run([*args, "--cores", "2", *targets], cwd=workdir)
    assert "import_inr_archive" in proc.stderr and "import_inr_shard" in proc.stderr
    assert "fit_inr_shard" not in proc.stderr
    results = workdir / "results/smoke"
    parts = [shards.read(results / f"inrs/digits/shard-{k}.h5") for k in range(2)]
    np.testing.assert_array_equal(parts[0].weights[1][0][3], params[1][0][3].numpy())
    assert (results / "inrs/digits/imported_files.csv").read_text().count("\n") == 81
    summary = (results / "inrs/digits/summary.csv").read_text().splitlines()
    assert summary[1].split(",")[5] == ""  # steps unknown
    table1 = (results / "tables/table1.csv").read_text()
    assert "digits,gmn,1" in table1 and "digits,mlp,1" in table1


def test_a_file_changed_after_the_check_is_not_imported(dataset, fitted, tmp_path):
    archive = make_archive("nfn", tmp_path, dataset, fitted)
    import_into("nfn", archive.folder, dataset, archive.out)
    out = archive.out
    path = archive.by_image[12]
    state = torch.load(path, weights_only=True)
    state["net.2.bias"] += 1.0
    torch.save(state, path)
    with pytest.raises(DataError, match="net12.pth: changed since .*imported_files.csv was written"):
        standard_sets.import_shard(
            "test_nfn",
            "nfn",
            archive.folder,
            NFN_RECIPE,
            dataset,
            out / "imported_files.csv",
            1,
            10,
            3,
            out / "again.h5",
        )
    assert not (out / "again.h5").exists()
