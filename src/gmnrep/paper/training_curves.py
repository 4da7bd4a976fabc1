"""Training curves: how each model's validation accuracy and loss moved, epoch by epoch.

The first question a reviewer asks of a GMN far below the image networks is whether it had
converged. One figure per dataset answers it from the models' metrics records (their `history`):
one column per architecture, validation accuracy above, loss below (validation solid, training
dashed), one colour per seed, and the epoch each model kept (best validation accuracy; a matched
network's stop) marked. A curve still rising at its last epoch is a model that more epochs would
change; the CSV beside the figure puts a number on it (mean validation accuracy over the last 5
epochs against the 5 before).
"""

from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.model_metrics import read_metrics
from gmnrep.paper.plotting import save_pdf
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES

HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_acc")
WINDOW = 5  # epochs: a model's last ones, against as many before them
CONVERGENCE_COLUMNS = ("dataset", "architecture", "seed", "epochs", "kept_epoch", "val_acc_last", "val_acc_before")


def read_history(path: Path) -> dict:
    """A metrics record whose history has every HISTORY_KEYS per epoch and names its kept epoch."""
    record = read_metrics(path)
    history = record.get("history")
    if not isinstance(history, list) or not history:
        raise DataError(f"{path}: metrics have no per-epoch history")
    for entry in history:
        missing = [key for key in HISTORY_KEYS if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise DataError(f"{path}: a history entry lacks {', '.join(missing)}")
    if record.get("best_epoch") not in [entry["epoch"] for entry in history]:
        raise DataError(f"{path}: best_epoch {record.get('best_epoch')!r} is not an epoch of its history")
    return record


def convergence_rows(records: list[dict]) -> list[dict]:
    """Per model (read_history's records): its epochs, the epoch it kept, and its mean validation
    accuracy (%) over its last WINDOW epochs and over the WINDOW before them ("" where it has
    fewer): a model that was still learning shows a higher last window."""
    rows = []
    for record in sorted(records, key=lambda r: (list(ARCH_TITLES).index(r["arch"]), r["seed"])):
        val = [100 * entry["val_acc"] for entry in record["history"]]
        last, before = val[-WINDOW:], val[-2 * WINDOW : -WINDOW]
        rows.append(
            {
                "dataset": record["dataset"],
                "architecture": record["arch"],
                "seed": record["seed"],
                "epochs": len(val),
                "kept_epoch": record["best_epoch"],
                "val_acc_last": round(float(np.mean(last)), 2),
                "val_acc_before": round(float(np.mean(before)), 2) if len(before) == WINDOW else "",
            }
        )
    return rows


def training_curves(metrics_paths: list[Path], output: Path, convergence_output: Path) -> None:
    """The figure of one dataset's models (every architecture x seed of `metrics_paths`), and their
    convergence_rows as CSV."""
    records = [read_history(p) for p in metrics_paths]
    if not records:
        raise DataError(f"{output}: no metrics to plot")
    datasets = {r["dataset"] for r in records}
    if len(datasets) != 1:
        raise DataError(f"{output}: metrics of several datasets given ({', '.join(sorted(datasets))}); one per figure")
    save_pdf(curves_figure(records), output)
    write_texts({Path(convergence_output): to_csv(convergence_rows(records), CONVERGENCE_COLUMNS)})


def curves_figure(records: list[dict]) -> Figure:
    """The curves of `records` (read_history's, all of one dataset)."""
    archs = [arch for arch in ARCH_TITLES if any(r["arch"] == arch for r in records)]
    seeds = sorted({r["seed"] for r in records})
    colours = dict(zip(seeds, sns.color_palette("colorblind", len(seeds))))
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(2.8 * len(archs), 5.0), layout="constrained")
        axes = figure.subplots(2, len(archs), sharex="col", sharey="row", squeeze=False)
        for column, arch in enumerate(archs):
            accuracy, loss = axes[:, column]
            for record in sorted((r for r in records if r["arch"] == arch), key=lambda r: r["seed"]):
                _draw_model(accuracy, loss, record, colours[record["seed"]])
            accuracy.set_title(ARCH_TITLES[arch])
            loss.set_xlabel("epoch")
        axes[0, 0].set_ylabel("validation accuracy (%)")
        axes[1, 0].set_ylabel("loss")
        handles = [Line2D([], [], color=colours[s], label=f"seed {s}") for s in seeds]
        handles += [
            Line2D([], [], color="black", linestyle="--", label="training loss"),
            Line2D([], [], color="black", marker="*", markersize=9, linestyle="", label="kept epoch"),
        ]
        figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 7), frameon=False)
        figure.suptitle(f"{DATASET_TITLES[records[0]['dataset']]}: training curves of every model")
    return figure


def _draw_model(accuracy, loss, record: dict, colour) -> None:
    history = record["history"]
    epochs = np.array([entry["epoch"] for entry in history])
    val_acc = 100 * np.array([entry["val_acc"] for entry in history])
    accuracy.plot(epochs, val_acc, color=colour, linewidth=1)
    loss.plot(epochs, [entry["val_loss"] for entry in history], color=colour, linewidth=1)
    loss.plot(epochs, [entry["train_loss"] for entry in history], color=colour, linewidth=0.8, linestyle="--")
    kept = epochs.tolist().index(record["best_epoch"])
    accuracy.plot(epochs[kept], val_acc[kept], marker="*", markersize=9, color=colour, markeredgecolor="black")
