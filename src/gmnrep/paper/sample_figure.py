"""Figure 4, drawn from the activation dumps, data files and INR shards: probe samples on which the
two families of models disagree completely.

Every GMN seed classifies the sample correctly while every MLP and CNN seed gets it wrong
("GMN-only"), and the reverse ("image-networks-only"). Its weight-space side is the first
weight-space architecture of the run in the registry's order (the GMN; another metanetwork when the
run has no GMN). Each example shows the image the image networks saw beside the image its INR draws
(the weights the GMN saw), the label, and every model's prediction.

What is plotted is computed by plain functions (sample_outcomes, sample_counts, chosen_examples and
gmnrep.paper.reconstructions' inr_reconstructions, gathered by collect_samples); the figure function
only draws their results.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file
from gmnrep.paper.plotting import save_pdf
from gmnrep.paper.predictions import ProbePredictions, family_correctness, read_predictions, weight_space_present
from gmnrep.paper.reconstructions import inr_reconstructions
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES, IMAGE_ARCHS, WEIGHT_SPACE_ARCHS, ordered_datasets

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
