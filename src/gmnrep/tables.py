"""The paper's tables: rows computed from run records, written as CSV, Markdown and LaTeX."""

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import DataError

DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "digits": "Digits"}
ARCH_TITLES = {"gmn": "GMN", "mlp": "MLP", "cnn": "CNN"}


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def accuracy_rows(metrics: list[dict]) -> list[dict]:
    """Table 1: test accuracy (%) at the selected epoch, mean and std over seeds, per dataset x arch."""
    groups = defaultdict(list)
    for record in metrics:
        groups[record["dataset"], record["arch"]].append(record)
    rows = []
    for (dataset, arch), records in sorted(groups.items(), key=lambda item: _order(*item[0])):
        mean, std = mean_std([100 * r["test_acc"] for r in records])
        seeds = sorted(r["seed"] for r in records)
        rows.append(
            {
                "dataset": dataset,
                "architecture": arch,
                "seeds": len(seeds),
                "test_acc_mean": round(mean, 2),
                "test_acc_std": round(std, 2),
                "seed_list": " ".join(map(str, seeds)),
            }
        )
    return rows


def _order(dataset: str, arch: str) -> tuple[int, int]:
    return list(DATASET_TITLES).index(dataset), list(ARCH_TITLES).index(arch)


def accuracy_markdown(rows: list[dict]) -> str:
    lines = ["| Dataset | Architecture | Test accuracy (%) | Seeds |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {DATASET_TITLES[r['dataset']]} | {ARCH_TITLES[r['architecture']]} "
            f"| {r['test_acc_mean']:.2f} ± {r['test_acc_std']:.2f} | {r['seeds']} |"
        )
    return "\n".join(lines) + "\n"


def accuracy_latex(rows: list[dict]) -> str:
    lines = [r"\begin{tabular}{llrr}", r"\toprule", r"Dataset & Architecture & Test accuracy (\%) & Seeds \\", r"\midrule"]
    for r in rows:
        lines.append(
            f"{DATASET_TITLES[r['dataset']]} & {ARCH_TITLES[r['architecture']]} & "
            f"${r['test_acc_mean']:.2f} \\pm {r['test_acc_std']:.2f}$ & {r['seeds']} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_texts(texts: dict[Path, str]) -> None:
    for path, text in texts.items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)


def read_metrics(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable metrics file ({exc})") from exc
    if not isinstance(record, dict):
        raise DataError(f"{path}: not a metrics record (a JSON object), got {type(record).__name__}")
    missing = [key for key in ("dataset", "arch", "seed", "test_acc") if key not in record]
    if missing:
        raise DataError(f"{path}: metrics lack {', '.join(missing)}")
    if record["dataset"] not in DATASET_TITLES or record["arch"] not in ARCH_TITLES:
        raise DataError(f"{path}: unknown dataset {record['dataset']!r} or architecture {record['arch']!r}")
    return record


def write_accuracy_table(metrics_paths: list[Path], csv_path: Path, markdown_path: Path, latex_path: Path) -> list[dict]:
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
    write_texts({Path(csv_path): to_csv(rows), Path(markdown_path): accuracy_markdown(rows), Path(latex_path): accuracy_latex(rows)})
    return rows
