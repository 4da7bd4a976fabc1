"""Figures 2/3 (cka_figure: CKA bars per pairing), Figure 4 (sample_figure: samples only GMNs or only
image networks get right), what an INR draws (reconstructions) and the report's own figures, from
synthetic inputs in the pipeline's file formats."""

import csv
import io
import json
import re

import numpy as np
import pytest
import torch
from matplotlib.text import Text

from conftest import DWSNETS_RECIPE
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file
from gmnrep.inr import shard_fitting, shards, siren
from gmnrep.paper import (
    cka_figure,
    cka_results,
    inr_figure,
    predictions,
    reconstructions,
    sample_figure,
    training_curves,
    vocabulary,
)
from gmnrep.representations import pairs
from test_tables import (
    ARCHS,
    BAD_CKA_TABLES,
    NUM_LAYERS,
    PAIRING_STEP,
    SEEDS,
    edit_rows,
    write_cka_table,
    write_cka_tables,
    write_dump,
)


def assert_pdf(path):
    content = path.read_bytes()
    assert content.startswith(b"%PDF-") and b"%%EOF" in content[-32:]
    assert len(content) > 5000
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporaries left


# --- Figures 2 and 3 --------------------------------------------------------------------------


def test_cka_bars_average_each_pairing_over_its_pairs(tmp_path):
    paths = write_cka_tables(tmp_path, "digits")
    bars = cka_figure.cka_bars(cka_results.read_cka_tables(paths, "digits"), [3, 4])
    # write_cka_tables: GMN, MLP and CNN pairs
    drawn = [p for p in vocabulary.PAPER_PAIRINGS if set(p.split("-")) <= {"gmn", "mlp", "cnn"}]
    assert [(b.pairing, b.layer) for b in bars] == [(p, l) for p in drawn for l in (3, 4)]
    a = np.arange(1, NUM_LAYERS + 1)
    for bar in bars:
        number = vocabulary.PAIRINGS.index(bar.pairing)
        # known_cka: PAIRING_STEP pairing + 0.01 l + 0.001 a + 0.02 pair, pairs 0, 1, 2
        expected = [PAIRING_STEP * number + 0.01 * bar.layer + 0.001 * a + 0.02 * k for k in range(3)]
        np.testing.assert_allclose(bar.values, expected)
        np.testing.assert_allclose(bar.mean, expected[1])
        np.testing.assert_allclose(bar.std, 0.02)


def test_a_cka_figure_draws_the_papers_pairings_then_the_matched_control(tmp_path):
    archs = ["gmn", "mlp", "cnn", "mlpmatch", "cnnmatch"]
    present = {pairs.pairing(pair) for pair in pairs.model_pairs(archs, [0, 1])}
    assert len(present) == 15
    assert cka_figure.figure_pairings(present) == [
        "gmn-gmn", "mlp-mlp", "cnn-cnn", "gmn-mlp", "gmn-cnn", "mlp-cnn",
        "mlpmatch-mlpmatch", "cnnmatch-cnnmatch", "gmn-mlpmatch", "gmn-cnnmatch", "mlpmatch-cnnmatch",
    ]  # fmt: skip
    assert cka_figure.figure_pairings({"gmn-gmn", "mlp-mlpmatch"}) == ["gmn-gmn"]
    paths = write_cka_tables(tmp_path, "digits", archs=archs, seeds=[0, 1])
    cka_figure.cka_figure({"digits": paths}, [3, 4], tmp_path / "fig3.pdf")
    assert_pdf(tmp_path / "fig3.pdf")


def test_cka_bars_index_the_first_models_layers_and_skip_absent_pairings(tmp_path):
    # gmn-mlp with 5 GMN layers and 3 MLP layers; l indexes the GMN's, a the MLP's
    cka = np.arange(15).reshape(5, 3) / 20
    paths = [
        write_cka_table(tmp_path / "a.csv", "digits", (("gmn", 0), ("mlp", 0)), cka),
        write_cka_table(tmp_path / "b.csv", "digits", (("gmn", 1), ("mlp", 1)), cka / 2),
    ]
    bars = cka_figure.cka_bars(cka_results.read_cka_tables(paths, "digits"), [5])
    assert len(bars) == 1 and bars[0].pairing == "gmn-mlp"
    np.testing.assert_allclose(bars[0].values, [cka[4], cka[4] / 2])
    np.testing.assert_allclose(bars[0].mean, 0.75 * cka[4])
    np.testing.assert_allclose(bars[0].std, np.std([cka[4], cka[4] / 2], axis=0, ddof=1))


def test_cka_figure_writes_a_pdf_with_datasets_side_by_side(tmp_path):
    # Digits has a single seed: no pairs within an architecture, and those panels say so.
    cka = {
        "mnist": write_cka_tables(tmp_path / "cka", "mnist"),
        "digits": write_cka_tables(tmp_path / "cka", "digits", seeds=[4]),
    }
    output = tmp_path / "figures" / "fig3.pdf"
    cka_figure.cka_figure(cka, [3, 4], output)
    assert_pdf(output)


def test_cka_figure_draws_any_layers(tmp_path):
    output = tmp_path / "fig2.pdf"
    cka_figure.cka_figure({"digits": write_cka_tables(tmp_path, "digits", archs=["mlp", "cnn"])}, [1, 2, 5], output)
    assert_pdf(output)


@pytest.mark.parametrize("problem", ["missing column", "value above 1", "NaN", "another dataset"])
def test_cka_figure_refuses_bad_tables_naming_the_file(tmp_path, problem):
    paths = write_cka_tables(tmp_path, "digits")
    edit, message = BAD_CKA_TABLES[problem]
    edit_rows(paths[-1], edit)
    output = tmp_path / "fig2.pdf"
    with pytest.raises(DataError, match=message) as info:
        cka_figure.cka_figure({"digits": paths}, [3, 4], output)
    assert str(paths[-1]) in str(info.value)
    assert not output.exists()


def test_cka_figure_refuses_a_layer_the_tables_lack(tmp_path):
    paths = write_cka_tables(tmp_path, "digits")
    output = tmp_path / "fig2.pdf"
    with pytest.raises(DataError, match=r"gmn-0: layer 6 \(its own numbering\) is none of the layers 1..5") as info:
        cka_figure.cka_figure({"digits": paths}, [3, 6], output)
    assert str(paths[0]) in str(info.value)
    assert not output.exists()


def test_cka_figure_refuses_an_unknown_dataset_or_none(tmp_path):
    with pytest.raises(DataError, match="unknown dataset"):
        cka_figure.cka_figure({"svhn": []}, [3], tmp_path / "f.pdf")
    with pytest.raises(DataError, match="no CKA tables given for digits"):
        cka_figure.cka_figure({"digits": []}, [3], tmp_path / "f.pdf")


# --- Figure 4 ---------------------------------------------------------------------------------

NUM_IMAGES = 20
PROBE = np.array([2, 3, 5, 7, 11, 13, 17, 19])  # image indices; probe rows 0..7
ALL_ROWS = set(range(len(PROBE)))
# Probe rows each model classifies correctly. Row 0: everyone right. Rows 1, 3, 6: GMN-only.
# Row 2: image-networks-only. Row 4: GMNs right, MLPs wrong, but CNN seed 0 right (neither).
# Row 5: everyone wrong. Row 7: image networks right, but GMN seed 1 right too (neither).
MIXED = {
    "gmn": {seed: {0, 1, 3, 4, 6} | ({7} if seed == 1 else set()) for seed in SEEDS},
    "mlp": {seed: {0, 2, 7} for seed in SEEDS},
    "cnn": {seed: {0, 2, 7} | ({4} if seed == 0 else set()) for seed in SEEDS},
}
# Only the GMNs err, all on row 0: image-networks-only {0}, no GMN-only sample.
GMNS_ERR = {
    "gmn": {seed: ALL_ROWS - {0} for seed in SEEDS},
    "mlp": {seed: ALL_ROWS for seed in SEEDS},
    "cnn": {seed: ALL_ROWS for seed in SEEDS},
}


def smooth_images(n: int) -> np.ndarray:
    """8x8 images an INR fits in a few dozen steps, each different and none symmetric."""
    y, x = np.mgrid[0:8, 0:8]
    images = [(np.sin(x / (2 + k)) + np.cos(y / (3 + 0.5 * k)) + 0.05 * k) * 55 + 128 for k in range(n)]
    return np.stack(images).astype(np.uint8)


def labels_of(image_index):
    return (np.asarray(image_index) * 7) % 10


def predictions_of(correct_rows: set, seed: int) -> np.ndarray:
    label = labels_of(PROBE)
    wrong = [row for row in range(len(PROBE)) if row not in correct_rows]
    predicted = label.copy()
    predicted[wrong] = (label[wrong] + 1 + seed) % 10
    return predicted


RECIPE = {**DWSNETS_RECIPE, "max_steps": 400, "target_psnr": 42.0}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A data file of 20 smooth 8x8 images and their INRs in two shards, fitted as the pipeline does."""
    folder = tmp_path_factory.mktemp("fig4")
    data_path = folder / "data.h5"
    split = np.full(NUM_IMAGES, 2, dtype=np.uint8)
    split[:6] = 0
    images = smooth_images(NUM_IMAGES)
    dataset_file.write(data_path, dataset_file.LabelledImages(images, labels_of(np.arange(NUM_IMAGES)), split), {})
    shard_paths = [folder / f"shard-{k}.h5" for k in range(2)]
    # One thread, as the one_thread fixture explains (that one is per test, this fixture per module).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for k, path in enumerate(shard_paths):
            shard_fitting.fit_shard(
                data_path,
                path,
                k,
                recipe=RECIPE,
                seed=0,
                shard_size=10,
                num_shards=2,
                subset=None,
                subset_seed=0,
                fit_batch_size={"cpu": 10, "cuda": 10},
                device="cpu",
            )
    finally:
        torch.set_num_threads(threads)
    return data_path, shard_paths, images


def write_dumps(folder, dataset, correct):
    return [
        write_dump(
            folder / dataset / f"{arch}-{seed}.h5",
            dataset,
            arch,
            seed,
            PROBE,
            labels_of(PROBE),
            predictions_of(rows, seed),
        )
        for arch, by_seed in correct.items()
        for seed, rows in by_seed.items()
    ]


def test_sample_outcomes_find_the_samples_only_one_family_gets_right(tmp_path):
    probe = predictions.read_predictions(write_dumps(tmp_path, "digits", MIXED), "digits")
    outcomes = sample_figure.sample_outcomes(probe)
    assert {name: np.flatnonzero(mask).tolist() for name, mask in outcomes.items()} == {
        "gmn_only": [1, 3, 6],
        "image_only": [2],
        "all_correct": [0],
        "all_wrong": [5],
    }
    assert sample_figure.sample_counts("digits", probe, outcomes) == {
        "dataset": "digits",
        "probe_samples": 8,
        "gmn_models": 3,
        "image_models": 6,
        "gmn_only": 3,
        "image_only": 1,
        "all_correct": 1,
        "all_wrong": 1,
    }


def test_chosen_examples_are_the_lowest_image_indices():
    image_index = np.array([30, 10, 20, 5, 40])
    mask = np.array([True, True, False, False, True])
    assert sample_figure.chosen_examples(image_index, mask, 2).tolist() == [1, 0]
    assert sample_figure.chosen_examples(image_index, mask, 9).tolist() == [1, 0, 4]
    assert sample_figure.chosen_examples(image_index, ~np.ones(5, bool), 3).tolist() == []


def test_inrs_reconstruct_their_images(fitted):
    data_path, shard_paths, images = fitted
    wanted = [3, 12, 19]  # in both shards
    drawings = reconstructions.inr_reconstructions(shard_paths, wanted, 8, 8)
    assert sorted(drawings) == wanted
    for index in wanted:
        drawn = drawings[index]
        assert drawn.dtype == np.uint8 and drawn.shape == (8, 8)
        error = np.abs(drawn.astype(int) - images[index])
        assert error.mean() < 2.5 and error.max() < 12  # 42 dB: RMSE about 2 grey levels
        assert np.abs(drawn.T.astype(int) - images[index]).mean() > 10  # not transposed


def test_shard_recipe_reads_the_attrs_fit_shard_writes(fitted):
    _, shard_paths, _ = fitted
    recipe = reconstructions.shard_recipe(shard_paths[0], shards.read(shard_paths[0]).attrs)
    assert recipe == siren.SirenRecipe.from_config(RECIPE)
    with pytest.raises(DataError, match="recipe attributes are missing") as info:
        reconstructions.shard_recipe(shard_paths[0], {"recipe.w0": 30.0})
    assert str(shard_paths[0]) in str(info.value)


def test_to_pixels_inverts_the_targets_of_a_recipe():
    images = np.array([[[0, 1, 128, 254, 255]]], dtype=np.uint8)
    for target_range in ([0.0, 1.0], [-1.0, 1.0]):
        recipe = siren.SirenRecipe.from_config({**RECIPE, "target_range": target_range})
        targets = siren.image_targets(images, recipe).numpy().reshape(images.shape)
        np.testing.assert_array_equal(reconstructions.to_pixels(targets, recipe), images)
    recipe = siren.SirenRecipe.from_config(RECIPE)
    assert reconstructions.to_pixels(np.array([-0.5, 1.5]), recipe).tolist() == [0, 255]  # clipped


def test_sample_figure_writes_the_figure_and_the_counts(fitted, tmp_path):
    data_path, shard_paths, _ = fitted
    dumps = {"digits": write_dumps(tmp_path, "digits", MIXED), "mnist": write_dumps(tmp_path, "mnist", GMNS_ERR)}
    output, counts_output = tmp_path / "figures" / "fig4.pdf", tmp_path / "tables" / "fig4_counts.csv"
    counts = sample_figure.sample_figure(
        dumps,
        {"digits": data_path, "mnist": data_path},
        {"digits": shard_paths, "mnist": shard_paths},
        output,
        counts_output,
        examples=2,
    )
    assert_pdf(output)
    rows = list(csv.DictReader(io.StringIO(counts_output.read_text())))
    assert rows == [
        {
            "dataset": "mnist",
            "probe_samples": "8",
            "gmn_models": "3",
            "image_models": "6",
            "gmn_only": "0",
            "image_only": "1",
            "all_correct": "7",
            "all_wrong": "0",
        },
        {
            "dataset": "digits",
            "probe_samples": "8",
            "gmn_models": "3",
            "image_models": "6",
            "gmn_only": "3",
            "image_only": "1",
            "all_correct": "1",
            "all_wrong": "1",
        },
    ]
    assert [c["dataset"] for c in counts] == ["mnist", "digits"]


def test_collect_samples_shows_the_lowest_image_indices_with_their_inrs(fitted, tmp_path):
    data_path, shard_paths, images = fitted
    samples = sample_figure.collect_samples("digits", write_dumps(tmp_path, "digits", MIXED), data_path, shard_paths, 2)
    assert {d: PROBE[rows].tolist() for d, rows in samples.chosen.items()} == {"gmn_only": [3, 7], "image_only": [5]}
    assert sorted(samples.images) == sorted(samples.reconstructions) == [3, 5, 7]
    np.testing.assert_array_equal(samples.images[7], images[7])
    assert list(samples.predictions.by_model) == [(arch, seed) for arch in ARCHS for seed in SEEDS]


def test_sample_figure_refuses_dumps_with_another_probe_order(fitted, tmp_path):
    data_path, shard_paths, _ = fitted
    dumps = write_dumps(tmp_path, "digits", MIXED)
    order = np.roll(np.arange(len(PROBE)), 1)
    reordered = write_dump(
        tmp_path / "odd.h5", "digits", "cnn", 9, PROBE[order], labels_of(PROBE[order]), labels_of(PROBE[order])
    )
    output, counts_output = tmp_path / "fig4.pdf", tmp_path / "counts.csv"
    with pytest.raises(DataError, match="differ from those of") as info:
        sample_figure.sample_figure(
            {"digits": [*dumps, reordered]}, {"digits": data_path}, {"digits": shard_paths}, output, counts_output, 2
        )
    assert str(reordered) in str(info.value)
    assert not output.exists() and not counts_output.exists()


def test_sample_figure_refuses_a_data_file_or_shards_that_do_not_match(fitted, tmp_path):
    data_path, shard_paths, images = fitted
    dumps = {"digits": write_dumps(tmp_path, "digits", MIXED)}
    other = tmp_path / "other.h5"
    labels = labels_of(np.arange(NUM_IMAGES))
    mislabelled = dataset_file.LabelledImages(images, (labels + 1) % 10, np.zeros(NUM_IMAGES, np.uint8))
    dataset_file.write(other, mislabelled, {})
    args = (tmp_path / "fig4.pdf", tmp_path / "counts.csv", 2)
    with pytest.raises(DataError, match="do not match the probe samples") as info:
        sample_figure.sample_figure(dumps, {"digits": other}, {"digits": shard_paths}, *args)
    assert str(other) in str(info.value)
    with pytest.raises(DataError, match="no INR of image\\(s\\) 3, 5, 7") as info:
        sample_figure.sample_figure(dumps, {"digits": data_path}, {"digits": shard_paths[1:]}, *args)
    assert str(shard_paths[1]) in str(info.value)


def test_sample_figure_needs_both_families(fitted, tmp_path):
    data_path, shard_paths, _ = fitted
    gmns_only = [p for p in write_dumps(tmp_path, "digits", MIXED) if p.name.startswith("gmn")]
    with pytest.raises(
        DataError, match=r"needs dumps of a weight-space network \(GMN, ...\) and of MLPs or CNNs; these are of gmn"
    ) as info:
        sample_figure.sample_figure(
            {"digits": gmns_only},
            {"digits": data_path},
            {"digits": shard_paths},
            tmp_path / "f.pdf",
            tmp_path / "c.csv",
            examples=2,
        )
    assert str(gmns_only[0]) in str(info.value)


CIFAR_RECIPE = {**RECIPE, "init": "siren", "output_offset": 0.0, "target_range": [-1.0, 1.0]}


def constant_shard(path, image_index, colour, recipe):
    """A shard whose INRs all draw one colour (RGB in [0, 255]): a zero last layer, its bias the colour."""
    recipe = siren.SirenRecipe.from_config(recipe)
    n = len(image_index)
    weights = [(w.numpy(), b.numpy()) for w, b in siren.init_params(recipe, 3, 0, image_index)]
    low, high = recipe.target_range
    bias = np.tile(low + (high - low) * np.asarray(colour) / 255, (n, 1)).astype(np.float32)
    weights[-1] = (np.zeros_like(weights[-1][0]), bias)
    zeros = np.zeros(n)
    attrs = {**recipe.as_attrs(), "layer_sizes": recipe.layer_sizes(3), "seed": 0, "shard": 0, "num_shards": 1}
    shard = shards.Shard(weights, np.asarray(image_index), labels_of(image_index), zeros, zeros, zeros, attrs)
    shards.write(path, shard)
    return path


def test_colour_images_and_their_inrs(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(NUM_IMAGES, 8, 8, 3), dtype=np.uint8)
    data_path = tmp_path / "cifar10.h5"
    data = dataset_file.LabelledImages(images, labels_of(np.arange(NUM_IMAGES)), np.full(NUM_IMAGES, 2, np.uint8))
    dataset_file.write(data_path, data, {})
    shard_path = constant_shard(tmp_path / "shard-0.h5", np.arange(NUM_IMAGES), [255, 128, 0], CIFAR_RECIPE)
    dumps = write_dumps(tmp_path, "cifar10", MIXED)
    samples = sample_figure.collect_samples("cifar10", dumps, data_path, [shard_path], 4)
    for drawn in samples.reconstructions.values():
        assert drawn.shape == (8, 8, 3)
        assert (drawn == [255, 128, 0]).all()
    output = tmp_path / "fig4.pdf"
    sample_figure.sample_figure(
        {"cifar10": dumps}, {"cifar10": data_path}, {"cifar10": [shard_path]}, output, tmp_path / "c.csv", examples=4
    )
    assert_pdf(output)


def page_height_points(pdf) -> float:
    """The height of a one-page PDF as matplotlib writes it (its MediaBox)."""
    match = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    return float(match.group(2))


def test_figure_4_grows_to_fit_every_architectures_prediction_line(fitted, tmp_path):
    """Each example lists every architecture's predictions below its image, outside the layout
    engine's sizing: with the matched twins (5 lines, not 3) the page is taller by the lines' room."""
    data_path, shard_paths, _ = fitted
    heights = {}
    for name, correct in {
        "paper": MIXED,
        "matched": MIXED | {"mlpmatch": MIXED["mlp"], "cnnmatch": MIXED["cnn"]},
    }.items():
        output = tmp_path / name / "fig4.pdf"
        sample_figure.sample_figure(
            {"digits": write_dumps(tmp_path / name, "digits", correct)},
            {"digits": data_path}, {"digits": shard_paths}, output, tmp_path / name / "counts.csv", examples=2,
        )  # fmt: skip
        heights[name] = page_height_points(output)
    extra = 72 * sample_figure.PREDICTION_LINE_INCHES * 2 * 2  # inches to points; two strips, two more lines
    assert heights["matched"] == pytest.approx(heights["paper"] + extra)


# --- The INRs' figure and the training curves (the report's own figures) ----------------------


def figure_text(figure) -> str:
    """Every text drawn on `figure` (titles, labels, legends), one per line."""
    return "\n".join(t.get_text() for t in figure.findobj(Text))


def test_inr_examples_are_spread_over_the_psnr_ranks_from_worst_to_best():
    psnr = np.array([30.0, 10.0, 50.0, 20.0, 40.0])
    assert inr_figure.examples_by_psnr(psnr, 3).tolist() == [1, 0, 2]  # 10, 30, 50 dB
    assert inr_figure.examples_by_psnr(psnr, 9).tolist() == [1, 3, 0, 4, 2]  # all, when there are fewer


def test_the_inr_figure_draws_test_images_beside_their_inrs(fitted, tmp_path):
    data_path, shard_paths, _ = fitted
    output = tmp_path / "inrs.pdf"
    inr_figure.inr_figure("digits", data_path, shard_paths, RECIPE["target_psnr"], 4, output)
    assert_pdf(output)
    text = figure_text(inr_figure.dataset_inr_figure("digits", data_path, shard_paths, RECIPE["target_psnr"], 4))
    assert "test images" in text and "worst to best PSNR" in text and "target 42 dB" in text
    # the shown images are test images (the fixture's first 6 are training images)
    shown = [int(i) for i in re.findall(r"#(\d+)", text)]
    assert len(shown) == 4 and min(shown) >= 6


def test_the_inr_figure_refuses_shards_of_another_data_file(fitted, tmp_path):
    _, shard_paths, images = fitted
    small = tmp_path / "small.h5"
    split = np.zeros(3, dtype=np.uint8)
    dataset_file.write(small, dataset_file.LabelledImages(images[:3], labels_of(np.arange(3)), split), {})
    with pytest.raises(DataError, match="small.h5: has 3 images"):
        inr_figure.inr_figure("digits", small, shard_paths, 42.0, 4, tmp_path / "inrs.pdf")
    assert not (tmp_path / "inrs.pdf").exists()


def write_metrics(path, arch, seed, epochs, best_epoch, dataset="digits", overrides=()):
    history = [
        {"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.1 * e, "val_loss": 2.1 / e, "val_acc": min(0.1 * e, 1.0)}
        for e in range(1, epochs + 1)
    ]
    record = {
        "dataset": dataset,
        "arch": arch,
        "seed": seed,
        "test_acc": 0.5,
        "val_acc": 0.5,
        "best_epoch": best_epoch,
        "history": history,
    }
    path.write_text(json.dumps({**record, **dict(overrides)}))
    return path


def test_training_curves_draw_every_architecture_and_seed(tmp_path):
    paths = [
        write_metrics(tmp_path / f"{arch}-{seed}.json", arch, seed, epochs=5, best_epoch=4)
        for arch in ("gmn", "mlp", "cnn")
        for seed in (0, 1)
    ]
    paths.append(write_metrics(tmp_path / "mlpmatch-0.json", "mlpmatch", 0, epochs=2, best_epoch=2))
    output = tmp_path / "curves.pdf"
    training_curves.training_curves(paths, output, tmp_path / "curves.csv")
    assert_pdf(output)
    text = figure_text(training_curves.curves_figure([training_curves.read_history(p) for p in paths]))
    for title in ("GMN", "MLP", "CNN", "MLP (matched)", "seed 0", "seed 1", "kept epoch", "Digits"):
        assert title in text, title


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"history": []}, "metrics have no per-epoch history"),
        ({"history": [{"epoch": 1, "val_acc": 0.5}]}, "a history entry lacks train_loss, val_loss"),
        ({"best_epoch": 9}, "best_epoch 9 is not an epoch of its history"),
    ],
)
def test_training_curves_refuse_metrics_without_a_usable_history(tmp_path, overrides, message):
    good = write_metrics(tmp_path / "gmn-0.json", "gmn", 0, epochs=3, best_epoch=2)
    bad = write_metrics(tmp_path / "gmn-1.json", "gmn", 1, epochs=3, best_epoch=2, overrides=overrides)
    with pytest.raises(DataError, match=f"gmn-1.json: {message}"):
        training_curves.training_curves([good, bad], tmp_path / "curves.pdf", tmp_path / "curves.csv")
    assert not (tmp_path / "curves.pdf").exists()


def test_convergence_compares_each_models_last_epochs_with_the_ones_before(tmp_path):
    # validation accuracy 10% per epoch, at most 100%: over 12 epochs the last 5 (80, 90, 100, 100,
    # 100) average 94%, the 5 before (30 to 70) 50%
    paths = [write_metrics(tmp_path / "gmn.json", "gmn", 0, epochs=12, best_epoch=10)]
    paths.append(write_metrics(tmp_path / "mlp.json", "mlp", 1, epochs=7, best_epoch=7))
    rows = training_curves.convergence_rows([training_curves.read_history(p) for p in paths])
    assert [(r["architecture"], r["seed"], r["epochs"], r["kept_epoch"]) for r in rows] == [
        ("gmn", 0, 12, 10),
        ("mlp", 1, 7, 7),
    ]
    assert rows[0]["val_acc_last"] == pytest.approx(94.0) and rows[0]["val_acc_before"] == pytest.approx(50.0)
    assert rows[1]["val_acc_before"] == ""  # 7 epochs: no full window before the last 5


def test_training_curves_are_one_dataset_per_figure(tmp_path):
    paths = [
        write_metrics(tmp_path / "a.json", "gmn", 0, epochs=2, best_epoch=1),
        write_metrics(tmp_path / "b.json", "gmn", 1, epochs=2, best_epoch=1, dataset="fashion_mnist"),
    ]
    with pytest.raises(DataError, match="metrics of several datasets given"):
        training_curves.training_curves(paths, tmp_path / "curves.pdf", tmp_path / "curves.csv")
