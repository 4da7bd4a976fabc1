"""Figures 2 and 3, drawn from the CKA tables: how alike the layer representations of two trained
models are.

For a model pair (A, B), CKA(l, a) compares layer l of A with layer a of B on the same probe samples
(1: the same up to rotation and scale, 0: unrelated). For each pairing of architectures (GMN-GMN,
..., MLP-CNN; its model pairs as in gmnrep.representations.pairs) bars show CKA(l, a) for a = 1..L and a few l
(the paper: 3 and 4), averaged over the pairing's pairs, with the spread between pairs. Low
GMN-GMN bars beside high MLP-MLP and CNN-CNN ones are the paper's finding that what a GMN learns
depends on its seed.

What is plotted is computed by cka_bars; the figure function only draws it.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gmnrep.core.errors import DataError
from gmnrep.paper.cka_results import CkaTable, by_pairing, read_cka_tables
from gmnrep.paper.plotting import save_pdf
from gmnrep.paper.spread import mean_std
from gmnrep.paper.vocabulary import (
    ARCH_TITLES,
    DATASET_TITLES,
    PAIRINGS,
    TWIN_PAIRINGS,
    ordered_datasets,
    pairing_title,
)

# The paper draws CKA(3, a) in skyblue and CKA(4, a) in blue; other layers continue the blues.
LAYER_COLOURS = {1: "lightsteelblue", 2: "cadetblue", 3: "skyblue", 4: "blue", 5: "navy"}


def layer_colour(layer: int):
    return LAYER_COLOURS.get(layer) or sns.color_palette("dark")[layer % 10]


@dataclass
class CkaBars:
    """CKA(layer, a) for a = 1..L of one pairing: each model pair's values (pairs, L), and their
    mean and sample std over the pairs (L,)."""

    pairing: str
    layer: int
    own_layer: int  # the first model's own layer of compared layer `layer`
    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def cka_bars(tables: list[CkaTable], layers: list[int], deepest: int | None = None) -> list[CkaBars]:
    """The bars of every pairing present (in PAIRINGS order) and every layer l in `layers` (of the
    first model of each pair, numbered as in networks of `deepest` layers:
    gmnrep.representations.compared_layers); DataError naming a table that lacks one of the layers."""
    bars = []
    for name, group in by_pairing(tables).items():
        stacked = np.stack([table.cka for table in group])
        for layer in layers:
            own_a = group[0].own_layer(layer, deepest, 0)
            values = stacked[:, own_a - 1, :]
            stats = np.array([mean_std(column) for column in values.T])
            bars.append(CkaBars(name, layer, own_a, values, stats[:, 0], stats[:, 1]))
    return bars


def figure_pairings(present: set[str]) -> list[str]:
    """The pairings a CKA figure draws, one row each: those present, in PAIRINGS order, except
    converged against matched networks (in Table 2; no claim compares them)."""
    return [name for name in PAIRINGS if name in present and name not in TWIN_PAIRINGS]


def cka_figure(
    tables_by_dataset: dict[str, list[Path]], layers: list[int], output: Path, deepest: int | None = None
) -> None:
    """Figures 2 / 3: one column of panels per dataset (each with its own y-range), one row per pairing."""
    datasets = ordered_datasets(tables_by_dataset)
    if not datasets:
        raise DataError(f"{output}: no datasets to plot")
    bars = {}
    for dataset in datasets:
        if not tables_by_dataset[dataset]:
            raise DataError(f"{output}: no CKA tables given for {dataset}")
        bars[dataset] = cka_bars(read_cka_tables(tables_by_dataset[dataset], dataset), layers, deepest)
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
    aligned = [b for b in bars if b.own_layer != b.layer]
    own = (
        f"\nl = {', '.join(str(b.layer) for b in aligned)}: its {', '.join(str(b.own_layer) for b in aligned)}"
        if aligned
        else ""
    )
    ax.set_ylabel(f"CKA (l: layer of {ARCH_TITLES[arch_a]}){own}")
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
