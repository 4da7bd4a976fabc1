"""The paper's figures, drawn from the CKA tables, activation dumps, data files and INR shards.

Figures 2 and 3 ask how alike the layer representations of two trained models are. For a model
pair (A, B), CKA(l, a) compares layer l of A with layer a of B on the same probe samples
(1: the same up to rotation and scale, 0: unrelated). For each pairing of architectures (GMN-GMN,
..., MLP-CNN; its model pairs as in gmnrep.representations.pairs) bars show CKA(l, a) for a = 1..L and a few l
(the paper: 3 and 4), averaged over the pairing's pairs, with the spread between pairs. Low
GMN-GMN bars beside high MLP-MLP and CNN-CNN ones are the paper's finding that what a GMN learns
depends on its seed.

Figure 4 looks at probe samples on which the two families of models disagree completely: every
GMN seed classifies the sample correctly while every MLP and CNN seed gets it wrong ("GMN-only"),
and the reverse ("image-networks-only"). Its weight-space side is the first weight-space
architecture of the run in the registry's order (the GMN; another metanetwork when the run has no
GMN). Each example shows the image the image networks saw beside the image its INR draws (the
weights the GMN saw), the label, and every model's prediction.

What is plotted is computed by plain functions (cka_bars; sample_outcomes, sample_counts,
chosen_examples and inr_reconstructions, gathered by collect_samples); the figure functions only
draw their results.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # pipeline jobs write files and have no display
import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gmnrep.core.atomic import atomic_path
from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file
from gmnrep.inr import shards, siren
from gmnrep.paper.tables import (
    ARCH_TITLES,
    DATASET_TITLES,
    IMAGE_ARCHS,
    PAIRINGS,
    TWIN_PAIRINGS,
    WEIGHT_SPACE_ARCHS,
    CkaTable,
    ProbePredictions,
    by_pairing,
    family_correctness,
    mean_std,
    ordered_datasets,
    pairing_title,
    read_cka_tables,
    read_predictions,
    weight_space_present,
)

# The paper draws CKA(3, a) in skyblue and CKA(4, a) in blue; other layers continue the blues.
LAYER_COLOURS = {1: "lightsteelblue", 2: "cadetblue", 3: "skyblue", 4: "blue", 5: "navy"}


def layer_colour(layer: int):
    return LAYER_COLOURS.get(layer) or sns.color_palette("dark")[layer % 10]


def save_pdf(figure: Figure, output: Path) -> None:
    with atomic_path(output) as tmp:
        # No creation date: the same inputs give the same file.
        figure.savefig(tmp, format="pdf", metadata={"CreationDate": None})


# --- Figures 2 and 3 --------------------------------------------------------------------------


@dataclass
class CkaBars:
    """CKA(layer, a) for a = 1..L of one pairing: each model pair's values (pairs, L), and their
    mean and sample std over the pairs (L,)."""

    pairing: str
    layer: int
    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def cka_bars(tables: list[CkaTable], layers: list[int]) -> list[CkaBars]:
    """The bars of every pairing present (in PAIRINGS order) and every layer l in `layers` (of the
    first model of each pair); DataError naming a table that lacks one of the layers."""
    bars = []
    for name, group in by_pairing(tables).items():
        for table in group:
            table.require_layers(layers)
        stacked = np.stack([table.cka for table in group])
        for layer in layers:
            values = stacked[:, layer - 1, :]
            stats = np.array([mean_std(column) for column in values.T])
            bars.append(CkaBars(name, layer, values, stats[:, 0], stats[:, 1]))
    return bars


def figure_pairings(present: set[str]) -> list[str]:
    """The pairings a CKA figure draws, one row each: those present, in PAIRINGS order, except
    converged against matched networks (in Table 2; no claim compares them)."""
    return [name for name in PAIRINGS if name in present and name not in TWIN_PAIRINGS]


def cka_figure(tables_by_dataset: dict[str, list[Path]], layers: list[int], output: Path) -> None:
    """Figures 2 / 3: one column of panels per dataset (each with its own y-range), one row per pairing."""
    datasets = ordered_datasets(tables_by_dataset)
    if not datasets:
        raise DataError(f"{output}: no datasets to plot")
    bars = {}
    for dataset in datasets:
        if not tables_by_dataset[dataset]:
            raise DataError(f"{output}: no CKA tables given for {dataset}")
        bars[dataset] = cka_bars(read_cka_tables(tables_by_dataset[dataset], dataset), layers)
    pairings = figure_pairings({b.pairing for dataset_bars in bars.values() for b in dataset_bars})
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(4.5 * len(datasets), 2.4 * len(pairings) + 0.5), layout="constrained")
        axes = figure.subplots(len(pairings), len(datasets), sharey="col", squeeze=False)
        for column, dataset in enumerate(datasets):
            for row, name in enumerate(pairings):
                panel_bars = [b for b in bars[dataset] if b.pairing == name]
                _draw_cka_panel(axes[row, column], dataset, name, panel_bars, layers)
            # Only now: fixing the bottom earlier would freeze the column's top before all its bars are drawn.
            axes[0, column].set_ylim(bottom=0)
        handles = [Patch(facecolor=layer_colour(l), edgecolor="black", label=f"CKA({l}, a)") for l in layers]
        figure.legend(handles=handles, loc="outside upper center", ncols=len(layers), frameon=False)
    save_pdf(figure, output)


def _draw_cka_panel(ax, dataset: str, name: str, bars: list[CkaBars], layers: list[int]) -> None:
    arch_a, arch_b = name.split("-")
    ax.set_title(f"{DATASET_TITLES[dataset]}: {ARCH_TITLES[arch_a]} vs {ARCH_TITLES[arch_b]}")
    if not bars:
        ax.axis("off")
        ax.text(0.5, 0.5, f"no {pairing_title(name)} pairs", ha="center", va="center", transform=ax.transAxes)
        return
    width = 0.8 / len(layers)
    for bar in bars:
        offset = (layers.index(bar.layer) - (len(layers) - 1) / 2) * width
        x = np.arange(1, len(bar.mean) + 1) + offset
        ax.bar(x, bar.mean, width, color=layer_colour(bar.layer), edgecolor="black", linewidth=0.4)
        ax.errorbar(x, bar.mean, yerr=bar.std, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        ax.scatter(np.repeat(x, len(bar.values)), bar.values.T.ravel(), s=5, color="0.25", zorder=3, linewidths=0)
    ax.set_xticks(np.arange(1, len(bars[0].mean) + 1))
    ax.set_xlabel(f"layer a of {ARCH_TITLES[arch_b]}")
    ax.set_ylabel(f"CKA (l: layer of {ARCH_TITLES[arch_a]})")
    pairs = len(bars[0].values)
    ax.text(
        0.99,
        0.97,
        f"{pairs} pair{'s' if pairs > 1 else ''}",
        ha="right",
        va="top",
        fontsize="small",
        transform=ax.transAxes,
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
    )


# --- Figure 4 ---------------------------------------------------------------------------------


DIRECTIONS = {"gmn_only": "{W}-only", "image_only": "image-networks-only"}  # {W}: the figure's weight-space title
PREDICTION_LINE_INCHES = 0.3  # more height per strip for each prediction line beyond three


def figure_subject(predictions: ProbePredictions) -> str:
    """The weight-space architecture Figure 4 sets against the image networks (module doc)."""
    present = weight_space_present(predictions)
    return present[0] if present else WEIGHT_SPACE_ARCHS[0]


def sample_outcomes(predictions: ProbePredictions) -> dict[str, np.ndarray]:
    """Per probe sample (masks in probe order): gmn_only (every model of the figure's weight-space
    architecture right, every image network wrong), image_only (the reverse), all_correct,
    all_wrong. An image network is an MLP or CNN."""
    gmn, image = family_correctness(predictions, figure_subject(predictions))
    return {
        "gmn_only": gmn.all(0) & ~image.any(0),
        "image_only": image.all(0) & ~gmn.any(0),
        "all_correct": gmn.all(0) & image.all(0),
        "all_wrong": ~gmn.any(0) & ~image.any(0),
    }


def sample_counts(dataset: str, predictions: ProbePredictions, outcomes: dict[str, np.ndarray]) -> dict:
    archs = [arch for arch, _ in predictions.by_model]
    return {
        "dataset": dataset,
        "probe_samples": len(predictions.image_index),
        "gmn_models": archs.count(figure_subject(predictions)),
        "image_models": sum(archs.count(arch) for arch in IMAGE_ARCHS),
        **{name: int(mask.sum()) for name, mask in outcomes.items()},
    }


def chosen_examples(image_index: np.ndarray, mask: np.ndarray, examples: int) -> np.ndarray:
    """Probe rows of the `examples` selected samples with the lowest image indices."""
    rows = np.flatnonzero(mask)
    return rows[np.argsort(image_index[rows], kind="stable")][:examples]


def shard_recipe(path: Path, attrs: dict) -> siren.SirenRecipe:
    """The SIREN recipe a shard was fitted with, from the recipe.* attrs that shards.fit_shard writes."""
    values = {key.removeprefix("recipe."): value for key, value in attrs.items() if key.startswith("recipe.")}
    try:
        for sequence in ("hidden", "target_range"):  # h5io stores sequences as JSON text
            values[sequence] = json.loads(values[sequence])
        return siren.SirenRecipe.from_config(values)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: the recipe attributes are missing or unreadable ({exc!r})") from None


def to_pixels(outputs: np.ndarray, recipe: siren.SirenRecipe) -> np.ndarray:
    """INR outputs in the recipe's target range -> uint8 pixels (the inverse of siren.image_targets)."""
    low, high = recipe.target_range
    return np.clip(np.rint((outputs - low) / (high - low) * 255), 0, 255).astype(np.uint8)


@torch.no_grad()
def inr_reconstructions(shard_paths: list[Path], image_indices, height: int, width: int) -> dict[int, np.ndarray]:
    """The images (H, W[, C]) uint8 that the INRs of `image_indices` draw on the pixel grid."""
    wanted = {int(i) for i in image_indices}
    found = {}
    for path in shard_paths:
        if wanted <= found.keys():
            break
        shard = shards.read(path)
        rows = [row for row, index in enumerate(shard.image_index.tolist()) if index in wanted]
        if not rows:
            continue
        recipe = shard_recipe(path, shard.attrs)
        params = [(torch.from_numpy(w[rows]), torch.from_numpy(b[rows])) for w, b in shard.weights]
        outputs = siren.forward(params, siren.coordinate_grid(height, width, order=recipe.coordinates), recipe).numpy()
        images = to_pixels(outputs, recipe).reshape(len(rows), height, width, -1)
        for row, image in zip(rows, images):
            found[int(shard.image_index[row])] = image[..., 0] if image.shape[-1] == 1 else image
    missing = sorted(wanted - found.keys())
    if missing:
        where = ", ".join(map(str, shard_paths))
        raise DataError(f"{where}: no INR of image(s) {', '.join(map(str, missing))} in these shards")
    return found


@dataclass
class DatasetSamples:
    """What Figure 4 shows of one dataset."""

    dataset: str
    predictions: ProbePredictions
    counts: dict
    chosen: dict[str, np.ndarray]  # direction -> probe rows shown
    images: dict[int, np.ndarray]  # image index -> image as stored
    reconstructions: dict[int, np.ndarray]  # image index -> what its INR draws


def collect_samples(
    dataset: str, dump_paths: list[Path], data_path: Path, shard_paths: list[Path], examples: int
) -> DatasetSamples:
    predictions = read_predictions(dump_paths, dataset)
    archs = {arch for arch, _ in predictions.by_model}
    if not weight_space_present(predictions) or not archs & set(IMAGE_ARCHS):
        where = ", ".join(map(str, dump_paths))
        raise DataError(
            f"{where}: Figure 4 needs dumps of a weight-space network (GMN, ...) and of MLPs or CNNs; "
            f"these are of {', '.join(sorted(archs))}"
        )
    data, _ = dataset_file.read(data_path)
    index = predictions.image_index
    if index.min() < 0 or index.max() >= len(data) or not np.array_equal(data.labels[index], predictions.label):
        raise DataError(f"{data_path}: its images and labels do not match the probe samples of the activation dumps")
    outcomes = sample_outcomes(predictions)
    chosen = {direction: chosen_examples(index, outcomes[direction], examples) for direction in DIRECTIONS}
    shown = np.concatenate([index[rows] for rows in chosen.values()])
    height, width = data.images.shape[1:3]
    return DatasetSamples(
        dataset=dataset,
        predictions=predictions,
        counts=sample_counts(dataset, predictions, outcomes),
        chosen=chosen,
        images={int(i): data.images[i] for i in shown},
        reconstructions=inr_reconstructions(shard_paths, shown, height, width),
    )


def sample_figure(
    dumps_by_dataset: dict[str, list[Path]],
    data_paths: dict[str, Path],
    shard_paths: dict[str, list[Path]],
    output: Path,
    counts_output: Path,
    examples: int,
) -> list[dict]:
    """Figure 4, and its counts per dataset as CSV; returns the counts."""
    if examples < 1:
        raise ValueError(f"examples must be at least 1, got {examples}")
    datasets = ordered_datasets(dumps_by_dataset, data_paths, shard_paths)
    if not datasets:
        raise DataError(f"{output}: no datasets to plot")
    samples = [collect_samples(d, dumps_by_dataset[d], data_paths[d], shard_paths[d], examples) for d in datasets]
    # Each example lists every architecture's predictions on a line of its own below the image,
    # outside what the layout engine sizes: room for them grows with their number.
    lines = max(len({arch for arch, _ in s.predictions.by_model}) for s in samples)
    height = 4.2 + PREDICTION_LINE_INCHES * 2 * max(lines - 3, 0)
    figure = Figure(figsize=(max(1.7 * examples, 7.0), height * len(samples)), layout="constrained")
    for panel, shown in zip(figure.subfigures(len(samples), 1, squeeze=False)[:, 0], samples):
        _draw_dataset_samples(panel, shown, examples)
    counts = [s.counts for s in samples]
    save_pdf(figure, output)
    write_texts({Path(counts_output): to_csv(counts)})
    return counts


def _families(predictions: ProbePredictions) -> tuple[str, str]:
    present = [ARCH_TITLES[arch] for arch in IMAGE_ARCHS if any(a == arch for a, _ in predictions.by_model)]
    return f"every {ARCH_TITLES[figure_subject(predictions)]}", "every " + " and every ".join(present)


def _draw_dataset_samples(panel, samples: DatasetSamples, slots: int) -> None:
    c = samples.counts
    subject = ARCH_TITLES[figure_subject(samples.predictions)]
    panel.suptitle(
        f"{DATASET_TITLES[samples.dataset]}: {c['probe_samples']} probe samples, {c['gmn_models']} {subject}s, "
        f"{c['image_models']} image networks\n{subject}-only: {c['gmn_only']}, image-networks-only: {c['image_only']}, "
        f"all correct: {c['all_correct']}, all wrong: {c['all_wrong']}",
        fontsize="medium",
    )
    gmns, image_networks = _families(samples.predictions)
    rule = {"gmn_only": (gmns, image_networks), "image_only": (image_networks, gmns)}
    for strip, direction in zip(panel.subfigures(2, 1), DIRECTIONS):
        right, wrong = rule[direction]
        shown = samples.chosen[direction]
        strip.suptitle(
            f"{DIRECTIONS[direction].format(W=subject)}: {right} right, {wrong} wrong "
            f"(showing {len(shown)} of {c[direction]}; image | INR)",
            fontsize="small",
        )
        if len(shown) == 0:
            strip.text(0.5, 0.5, "no such probe sample", ha="center", va="center")
            continue
        for ax, probe_row in zip(strip.subplots(1, slots, squeeze=False)[0], [*shown, *[None] * slots]):
            ax.set_axis_off()
            if probe_row is not None:
                _draw_example(ax, samples, int(probe_row))


def _draw_example(ax, samples: DatasetSamples, probe_row: int) -> None:
    predictions = samples.predictions
    index = int(predictions.image_index[probe_row])
    image, reconstruction = samples.images[index], samples.reconstructions[index]
    gap = np.full((image.shape[0], 1, *image.shape[2:]), 255, dtype=np.uint8)
    ax.imshow(np.concatenate([image, gap, reconstruction], axis=1), cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"#{index}, label {predictions.label[probe_row]}", fontsize="small")
    lines = []
    for arch, title in ARCH_TITLES.items():
        predicted = [str(p[probe_row]) for (a, _), p in predictions.by_model.items() if a == arch]
        if predicted:
            lines.append(f"{title}: {' '.join(predicted)}")
    ax.text(
        0.5,
        -0.05,
        "\n".join(lines),
        ha="center",
        va="top",
        fontsize="x-small",
        family="monospace",
        transform=ax.transAxes,
    )
