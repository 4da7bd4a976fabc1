"""The weight-space families of a run side by side (GMN, ScaleGMN, NFN, StatNN, the flat MLP: those
it trains), each against the image networks: its test accuracy and parameter count, and at each
compared layer l how alike the representations of its seeds are (CKA(l, l) within the family) and
how alike they are to the image networks' (CKA(l, l) to the MLP and to the CNN), mean ± std over
every compared pair (those the claims test); the image networks' own rows are the reference.
Written as a figure (one panel per dataset and compared layer) and a table (CSV, Markdown, LaTeX).

Whether a difference between families is more than the spread of seeds and probe samples is tested
only by the claims (gmnrep.paper.claims), which state C1-C3 for each family.
"""

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.cka_results import by_pairing, read_cka_tables
from gmnrep.paper.model_metrics import read_metrics
from gmnrep.paper.plotting import save_pdf
from gmnrep.paper.spread import mean_std
from gmnrep.paper.text_tables import latex_table, markdown_table, plus_minus
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES, IMAGE_ARCHS, WEIGHT_SPACE_ARCHS, ordered_datasets

SEEDS = "seeds"  # the column of CKA between two models of the same architecture


def partners(arch: str) -> tuple[str, ...]:
    """What `arch`'s representations are compared with: its own seeds, then each image network but itself."""
    return (SEEDS, *(other for other in IMAGE_ARCHS if other != arch))


def _pairing(arch: str, partner: str) -> str:
    """The pairing name (as gmnrep.paper.cka_results orients it: display order) of arch with partner."""
    if partner == SEEDS:
        return f"{arch}-{arch}"
    first, second = sorted((arch, partner), key=list(ARCH_TITLES).index)
    return f"{first}-{second}"


def family_rows(
    tables_by_dataset: dict[str, list[Path]], metrics_paths: list[Path], layers, deepest: int | None = None
) -> list[dict]:
    """Per dataset, one row per weight-space family with seed-to-seed pairs, then one per image
    network: accuracy (%), parameters and, per compared layer, CKA(l, l) with each partner."""
    metrics = [read_metrics(path) for path in metrics_paths]
    rows = []
    for dataset in ordered_datasets(tables_by_dataset):
        groups = by_pairing(read_cka_tables(tables_by_dataset[dataset], dataset))
        archs = [arch for arch in (*WEIGHT_SPACE_ARCHS, *IMAGE_ARCHS) if f"{arch}-{arch}" in groups]
        if not any(arch in WEIGHT_SPACE_ARCHS for arch in archs):
            raise DataError(f"{dataset}: no weight-space architecture has seed-to-seed CKA tables")
        for arch in archs:
            records = [m for m in metrics if m["dataset"] == dataset and m["arch"] == arch]
            if not records:
                raise DataError(f"{dataset}: no metrics record of {ARCH_TITLES[arch]} among the {len(metrics)} given")
            accuracy = mean_std([100 * record["test_acc"] for record in records])
            row = {"dataset": dataset, "architecture": arch, "seeds": len(records)}
            row["test_acc_mean"], row["test_acc_std"] = (round(value, 2) for value in accuracy)
            row["parameters"] = records[0].get("num_parameters", "")
            for layer in layers:
                for partner in partners(arch):
                    group = groups.get(_pairing(arch, partner), [])
                    values = [table.compared(layer, deepest) for table in group]
                    mean, std = mean_std(values) if values else (np.nan, np.nan)
                    row[f"cka_{layer}_{partner}_mean"], row[f"cka_{layer}_{partner}_std"] = (
                        round(mean, 4),
                        round(std, 4),
                    )
                    row[f"cka_{layer}_{partner}_pairs"] = len(values)
            rows.append(row)
    return rows


def _cka_cell(row: dict, layer: int, partner: str, latex: bool) -> str:
    if partner not in partners(row["architecture"]) or not row[f"cka_{layer}_{partner}_pairs"]:
        return ""
    return plus_minus(row[f"cka_{layer}_{partner}_mean"], row[f"cka_{layer}_{partner}_std"], 3, latex)


def family_texts(rows: list[dict], layers) -> tuple[str, str]:
    """The table as Markdown and as LaTeX."""
    columns = partners("")
    names = {SEEDS: "seed to seed", **{arch: f"to {ARCH_TITLES[arch]}" for arch in IMAGE_ARCHS}}
    header = ["Dataset", "Architecture", "Test accuracy (%)", "Parameters"]
    header += [f"CKA({l}, {l}) {names[partner]}" for l in layers for partner in columns]

    def cells(row: dict, latex: bool) -> list[str]:
        return [
            DATASET_TITLES[row["dataset"]],
            ARCH_TITLES[row["architecture"]],
            plus_minus(row["test_acc_mean"], row["test_acc_std"], 2, latex),
            str(row["parameters"]),
            *(_cka_cell(row, l, partner, latex) for l in layers for partner in columns),
        ]

    markdown = markdown_table(header, [cells(row, False) for row in rows])
    latex = latex_table("ll" + "r" * (len(header) - 2), header, [cells(row, True) for row in rows])
    return markdown, latex


def image_references(images: list[dict], layer: int, palette: dict) -> list[tuple[str, float, object, str]]:
    """(label, CKA(l, l), colour, line style) of each image network's seeds (dotted, its colour)
    and of each pair of image networks once (dashed, grey)."""
    references = []
    for position, row in enumerate(images):
        arch = row["architecture"]
        references.append(
            (f"{ARCH_TITLES[arch]}-{ARCH_TITLES[arch]}", row[f"cka_{layer}_{SEEDS}_mean"], palette[arch], ":")
        )
        for later in images[position + 1 :]:
            other = later["architecture"]
            label = f"{ARCH_TITLES[arch]}-{ARCH_TITLES[other]}"
            references.append((label, row[f"cka_{layer}_{other}_mean"], "0.4", "--"))
    return references


def family_figure(rows: list[dict], layers, output: Path) -> None:
    """One panel per dataset (row) and compared layer (column): per weight-space family, CKA(l, l)
    seed to seed and to each image network (mean ± std over pairs); the image networks' own values
    as horizontal lines, named in the legend."""
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    columns = partners("")
    markers = dict(zip(columns, "oDs^v"))
    palette = dict(zip(columns, sns.color_palette("colorblind", len(columns))))
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(4.2 * len(layers), 3.0 * len(datasets) + 0.4), layout="constrained")
        axes = figure.subplots(len(datasets), len(layers), sharey=True, squeeze=False)
        for i, dataset in enumerate(datasets):
            families = [r for r in rows if r["dataset"] == dataset and r["architecture"] in WEIGHT_SPACE_ARCHS]
            images = [r for r in rows if r["dataset"] == dataset and r["architecture"] in IMAGE_ARCHS]
            for j, layer in enumerate(layers):
                ax = axes[i, j]
                for k, partner in enumerate(columns):
                    x = np.arange(len(families)) + (k - (len(columns) - 1) / 2) * 0.22
                    mean = [r[f"cka_{layer}_{partner}_mean"] for r in families]
                    std = [r[f"cka_{layer}_{partner}_std"] for r in families]
                    label = "seed to seed" if partner == SEEDS else f"to {ARCH_TITLES[partner]}"
                    ax.errorbar(x, mean, yerr=std, fmt=markers[partner], color=palette[partner], capsize=2, label=label)
                for label, value, colour, style in image_references(images, layer, palette):
                    # in the legend, not beside the line: close values would print their names over each other
                    ax.axhline(value, color=colour, linestyle=style, linewidth=0.9, label=label)
                ax.set_xticks(np.arange(len(families)), [ARCH_TITLES[r["architecture"]] for r in families], rotation=30)
                ax.set_title(f"{DATASET_TITLES[dataset]}: CKA({layer}, {layer})")
                ax.set_ylim(0, 1.02)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside upper center", ncols=len(labels), frameon=False)
    save_pdf(figure, output)


def write_family_comparison(
    tables_by_dataset: dict[str, list[Path]],
    metrics_paths: list[Path],
    layers,
    figure: Path,
    csv: Path,
    markdown: Path,
    latex: Path,
    deepest: int | None = None,
) -> None:
    rows = family_rows(tables_by_dataset, metrics_paths, layers, deepest)
    markdown_text, latex_text = family_texts(rows, layers)
    family_figure(rows, layers, figure)
    write_texts({csv: to_csv(rows), markdown: markdown_text, latex: latex_text})
