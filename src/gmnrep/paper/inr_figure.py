"""The INRs shown: a few test images beside what their INR draws, and the PSNR of every INR.

The GMNs never see an image, only the INR's weights; whether those weights hold the image is the
first thing to check of an INR set. One figure per dataset: test images at evenly spaced ranks of
PSNR (worst to best), each above its INR's reconstruction on the image's pixel grid with the
PSNR the fit reached, and below them the PSNR histogram of each split with the recipe's target.
"""

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5
from gmnrep.data import dataset_file, splits
from gmnrep.paper.plotting import save_pdf
from gmnrep.paper.reconstructions import inr_reconstructions
from gmnrep.paper.vocabulary import DATASET_TITLES

SHARD_INDEX = ("psnr", "split", "image_index", "label")


def examples_by_psnr(psnr: np.ndarray, count: int) -> np.ndarray:
    """Positions of `count` entries of `psnr` at evenly spaced ranks, lowest first (all, if fewer)."""
    order = np.argsort(psnr, kind="stable")
    if len(order) <= count:
        return order
    return order[np.round(np.linspace(0, len(order) - 1, count)).astype(int)]


def inr_figure(
    dataset: str, data_path: Path, shard_paths: list[Path], target_psnr: float, examples: int, output: Path
) -> None:
    """The figure of `dataset`'s INRs (every shard of `shard_paths`), with `examples` test images."""
    save_pdf(dataset_inr_figure(dataset, data_path, shard_paths, target_psnr, examples), output)


def dataset_inr_figure(
    dataset: str, data_path: Path, shard_paths: list[Path], target_psnr: float, examples: int
) -> Figure:
    if examples < 1:
        raise ValueError(f"examples must be at least 1, got {examples}")
    data, _ = dataset_file.read(data_path)
    # every INR's PSNR, split and image, without its weights (only the shown INRs' are read, below)
    parts = [read_h5(p, SHARD_INDEX)[0] for p in shard_paths]
    psnr, split, image_index, labels = (np.concatenate([part[key] for part in parts]) for key in SHARD_INDEX)
    where = ", ".join(map(str, shard_paths))
    if len(psnr) == 0:
        raise DataError(f"{where}: the shards hold no INR")
    if image_index.max() >= len(data):
        raise DataError(f"{data_path}: has {len(data)} images, the shards name image {image_index.max()}")
    if not np.array_equal(data.labels[image_index], labels):
        raise DataError(f"{data_path}: its labels differ from those of the INRs in {where}")
    test = np.flatnonzero(split == splits.TEST)
    if len(test) == 0:
        raise DataError(f"{where}: the shards hold no test-split INR to show")
    shown = test[examples_by_psnr(psnr[test], examples)]
    height, width = data.images.shape[1:3]
    drawn = inr_reconstructions(shard_paths, image_index[shown], height, width)
    images = [
        (int(image_index[row]), data.images[image_index[row]], drawn[int(image_index[row])], psnr[row]) for row in shown
    ]
    return inrs_figure(dataset, images, psnr, split, target_psnr)


def inrs_figure(dataset: str, images: list[tuple], psnr: np.ndarray, split: np.ndarray, target_psnr: float) -> Figure:
    """`images`: (image index, image, its INR's reconstruction, PSNR) per example; `psnr` and
    `split`: every INR's, for the histogram."""
    with sns.axes_style("white"), sns.plotting_context("paper"):
        figure = Figure(figsize=(max(1.2 * len(images), 6.0), 5.6), layout="constrained")
        top, bottom = figure.subfigures(2, 1, height_ratios=[1.3, 1])
        top.suptitle(f"{DATASET_TITLES[dataset]}: test images (above) and their INRs (below), worst to best PSNR")
        grid = top.subplots(2, len(images), squeeze=False)
        for column, (index, image, reconstruction, value) in enumerate(images):
            for ax, shown in zip(grid[:, column], (image, reconstruction)):
                ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
                ax.set_axis_off()
            grid[0, column].set_title(f"#{index}", fontsize="small")
            grid[1, column].set_title(f"{value:.1f} dB", fontsize="small")
        ax = bottom.subplots()
        bins = np.histogram_bin_edges(psnr, bins=40)
        for name, code in splits.SPLIT_NAMES.items():
            values = psnr[split == code]
            if len(values):
                ax.hist(values, bins=bins, histtype="step", linewidth=1.2, label=f"{name} ({len(values):,} INRs)")
        ax.axvline(target_psnr, color="black", linestyle=":", label=f"target {target_psnr:g} dB")
        ax.set_xlabel("PSNR of the fitted INR (dB)")
        ax.set_ylabel("INRs")
        ax.legend(frameon=False, fontsize="small")
    return figure
