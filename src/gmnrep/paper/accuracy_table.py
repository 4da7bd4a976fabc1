"""Table 1: test accuracy per dataset and architecture, from the models' metrics records, written
as CSV, Markdown and LaTeX.

For the accuracy-matched image networks (gmnrep.models.matching) also the validation accuracy they
were matched to and the one they reached, with the optimizer step at which each seed stopped.
"""

from collections import defaultdict
from pathlib import Path

import numpy as np

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.model_metrics import read_metrics
from gmnrep.paper.spread import mean_std
from gmnrep.paper.text_tables import latex_table, markdown_table, plus_minus
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES

ACCURACY_COLUMNS = (
    "dataset",
    "architecture",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "val_acc_mean",
    "target_val_acc",
    "matched_at",
    "seed_list",
)
ACCURACY_HEADER = ["Dataset", "Architecture", "Test accuracy (%)", "Validation (%)", "Matched to (val. %)", "Seeds"]


def accuracy_rows(metrics: list[dict]) -> list[dict]:
    """Table 1: test accuracy (%) at the selected epoch, mean and std over seeds, per dataset x arch."""
    groups = defaultdict(list)
    for record in metrics:
        groups[record["dataset"], record["arch"]].append(record)
    rows = []
    for (dataset, arch), records in sorted(groups.items(), key=lambda item: _order(*item[0])):
        records = sorted(records, key=lambda r: r["seed"])
        mean, std = mean_std([100 * r["test_acc"] for r in records])
        stops = [r["stop"] for r in records if "stop" in r]
        targets = sorted({stop["target_val_acc"] for stop in stops})
        rows.append(
            {
                "dataset": dataset,
                "architecture": arch,
                "seeds": len(records),
                "test_acc_mean": round(mean, 2),
                "test_acc_std": round(std, 2),
                "val_acc_mean": round(100 * float(np.mean([r["val_acc"] for r in records])), 2),
                # a matched network's target: the mean validation accuracy of the run's GMNs
                "target_val_acc": " ".join(f"{100 * t:.2f}" for t in targets),
                "matched_at": ", ".join(matched_at(stop) for stop in stops),
                "seed_list": " ".join(str(r["seed"]) for r in records),
            }
        )
    return rows


def matched_at(stop: dict) -> str:
    """Where a matched network met its target (its metrics' `stop`): 'step 12', 'never' (the
    converged model), or '250 samples' (the training subset chosen)."""
    if stop["method"] == "data":
        return f"{stop['train_samples']} samples"
    return f"step {stop['step']}" if stop["reached"] else "never"


def _order(dataset: str, arch: str) -> tuple[int, int]:
    return list(DATASET_TITLES).index(dataset), list(ARCH_TITLES).index(arch)


def _accuracy_cells(row: dict, latex: bool) -> list[str]:
    matched = f"{row['target_val_acc']} ({row['matched_at']})" if row["target_val_acc"] else ""
    return [
        DATASET_TITLES[row["dataset"]],
        ARCH_TITLES[row["architecture"]],
        plus_minus(row["test_acc_mean"], row["test_acc_std"], 2, latex),
        f"{row['val_acc_mean']:.2f}",
        matched,
        str(row["seeds"]),
    ]


def accuracy_markdown(rows: list[dict]) -> str:
    return markdown_table(ACCURACY_HEADER, [_accuracy_cells(r, latex=False) for r in rows])


def accuracy_latex(rows: list[dict]) -> str:
    header = [cell.replace("%", r"\%") for cell in ACCURACY_HEADER]
    return latex_table("llrrlr", header, [_accuracy_cells(r, latex=True) for r in rows])


def read_accuracy_table(path: Path) -> list[dict]:
    """Table 1 as write_accuracy_table writes it, its accuracies as numbers."""
    rows = read_csv(Path(path), ACCURACY_COLUMNS, "accuracy table (Table 1)")
    for row in rows:
        if row["dataset"] not in DATASET_TITLES or row["architecture"] not in ARCH_TITLES:
            raise DataError(f"{path}: unknown dataset {row['dataset']!r} or architecture {row['architecture']!r}")
        try:
            row["test_acc_mean"], row["test_acc_std"] = float(row["test_acc_mean"]), float(row["test_acc_std"])
        except ValueError as exc:
            raise DataError(f"{path}: a test accuracy is not a number ({exc})") from None
    return rows


def write_accuracy_table(
    metrics_paths: list[Path], csv_path: Path, markdown_path: Path, latex_path: Path
) -> list[dict]:
    if not metrics_paths:
        raise DataError(f"{csv_path}: no metrics files to tabulate")
    records, seen = [], {}
    for path in metrics_paths:
        record = read_metrics(path)
        key = (record["dataset"], record["arch"], record["seed"])
        if key in seen:
            raise DataError(f"{path}: {'/'.join(map(str, key))} is also recorded in {seen[key]}")
        seen[key] = path
        records.append(record)
    rows = accuracy_rows(records)
    write_texts(
        {
            Path(csv_path): to_csv(rows, ACCURACY_COLUMNS),
            Path(markdown_path): accuracy_markdown(rows),
            Path(latex_path): accuracy_latex(rows),
        }
    )
    return rows
