"""The paper's tables: rows computed from run records, written as CSV, Markdown and LaTeX.

Table 1 is test accuracy per dataset and architecture, from the models' metrics records; for the
accuracy-matched image networks (gmnrep.models.matching) also the validation accuracy they were
matched to and the one they reached, with the optimizer step at which each seed stopped.
Table 2 compares the models of each pairing of architectures (GMN-GMN, ..., MLP-CNN): CKA between
matched layers, read from the per-pair CKA tables, and how often the two models predict the same
class, from their activation dumps; each as mean ± std over the pairing's model pairs. Beside each
CKA column, its chance floor: the mean over the pairing's models of CKA between the layer and the
layer with its probe samples shuffled (gmnrep.representations.similarity), what unrelated representations give.

The readers of CKA tables and of the dumps' predictions live here because Figures 2-4
(gmnrep.paper.figures) build on the same validated inputs.
"""

import json
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.models import registry
from gmnrep.representations import dump_file
from gmnrep.representations.cka import VALUE_RANGE
from gmnrep.representations.pairs import Model, model_id, pair_name, pairing, parse_model_id
from gmnrep.representations.similarity import BLOCK_COLUMNS, CHANCE_COLUMNS
from gmnrep.representations.similarity import COLUMNS as CKA_COLUMNS

DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "digits": "Digits"}
WEIGHT_SPACE_ARCHS = registry.weight_space_archs()  # the networks that see INR weights (GMN, ...)
IMAGE_ARCHS = registry.image_archs()  # the networks that see images
MATCHED_ARCHS = registry.matched_archs()  # their accuracy-matched twins
ARCH_TITLES = {name: registry.title(name) for name in registry.display_order()}  # in display order


def _pairings(archs) -> list[str]:
    """Within each architecture, then across, as gmnrep.representations.pairs.model_pairs orders them."""
    return [f"{a}-{a}" for a in archs] + [f"{a}-{b}" for a, b in combinations(archs, 2)]


# The order tables and figures show pairings in: the paper's (with every weight-space network in
# the GMN's place), then the same with the matched image networks in place of the converged ones
# (the control), then converged against matched networks.
PAPER_PAIRINGS = _pairings((*WEIGHT_SPACE_ARCHS, *IMAGE_ARCHS))
CONTROL_PAIRINGS = [name for name in _pairings((*WEIGHT_SPACE_ARCHS, *MATCHED_ARCHS)) if name not in PAPER_PAIRINGS]
TWIN_PAIRINGS = [f"{a}-{b}" for a in IMAGE_ARCHS for b in MATCHED_ARCHS]
PAIRINGS = PAPER_PAIRINGS + CONTROL_PAIRINGS + TWIN_PAIRINGS
# CKA is in its estimator's range (cka.VALUE_RANGE) up to floating-point rounding.
CKA_TOLERANCE = 1e-9


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def pairing_title(name: str) -> str:
    """'gmn-mlp' -> 'GMN-MLP'."""
    return "-".join(ARCH_TITLES[arch] for arch in name.split("-"))


def ordered_datasets(*by_dataset: dict) -> list[str]:
    """The datasets that every mapping is keyed by, in the paper's order; DataError if they differ."""
    names = set(by_dataset[0])
    for mapping in by_dataset[1:]:
        if set(mapping) != names:
            raise DataError(f"inputs are given for different datasets: {sorted(names)} and {sorted(mapping)}")
    unknown = sorted(names - set(DATASET_TITLES))
    if unknown:
        raise DataError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(DATASET_TITLES)}")
    return [name for name in DATASET_TITLES if name in names]


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


def accuracy_markdown(rows: list[dict]) -> str:
    return markdown_table(ACCURACY_HEADER, [_accuracy_cells(r, latex=False) for r in rows])


def accuracy_latex(rows: list[dict]) -> str:
    header = [cell.replace("%", r"\%") for cell in ACCURACY_HEADER]
    return latex_table("llrrlr", header, [_accuracy_cells(r, latex=True) for r in rows])


def plus_minus(mean: float, std: float, digits: int, latex: bool) -> str:
    if latex:
        return f"${mean:.{digits}f} \\pm {std:.{digits}f}$"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def latex_table(alignment: str, header: list[str], body: list[list[str]]) -> str:
    lines = [f"\\begin{{tabular}}{{{alignment}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(cells) + r" \\" for cells in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


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


def read_metrics(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable metrics file ({exc})") from exc
    if not isinstance(record, dict):
        raise DataError(f"{path}: not a metrics record (a JSON object), got {type(record).__name__}")
    missing = [key for key in ("dataset", "arch", "seed", "test_acc", "val_acc") if key not in record]
    if missing:
        raise DataError(f"{path}: metrics lack {', '.join(missing)}")
    if record["dataset"] not in DATASET_TITLES or record["arch"] not in ARCH_TITLES:
        raise DataError(f"{path}: unknown dataset {record['dataset']!r} or architecture {record['arch']!r}")
    for key in ("test_acc", "val_acc"):
        accuracy = record[key]
        # JSON may hold NaN or Infinity; Table 1 would show "nan ± nan" instead of refusing.
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
            raise DataError(f"{path}: {key} is {accuracy!r}, not a number in [0, 1]")
    return record


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


# --- CKA tables -----------------------------------------------------------------------------


@dataclass
class CkaTable:
    """One model pair's CKA table: cka[l - 1, a - 1] = CKA(layer l of model_a, layer a of model_b)."""

    path: Path
    dataset: str
    model_a: Model
    model_b: Model
    cka: np.ndarray
    estimator: str
    probe_size: str

    @property
    def pairing(self) -> str:
        return pairing((self.model_a, self.model_b))

    @property
    def name(self) -> str:
        return pair_name((self.model_a, self.model_b))

    def require_layers(self, layers, *, matched: bool = False) -> None:
        """DataError unless every layer l exists in model_a (and, if `matched`, in model_b too)."""
        rows, columns = self.cka.shape
        limit = min(rows, columns) if matched else rows
        missing = [l for l in layers if not 1 <= l <= limit]
        if missing:
            names = model_id(self.model_a), model_id(self.model_b)
            which = f"both {names[0]} and {names[1]}" if matched else names[0]
            raise DataError(
                f"{self.path}: layer(s) {', '.join(map(str, missing))} requested, but {which} have layers 1..{limit}"
            )


def _parse_model(path: Path, text: str) -> Model:
    try:
        arch, seed = parse_model_id(text)
    except ValueError:
        arch = None
    if arch not in ARCH_TITLES:
        raise DataError(f"{path}: model {text!r} is not '<arch>-<seed>' with arch one of {', '.join(ARCH_TITLES)}")
    return arch, seed


def _single(path: Path, rows: list[dict], column: str) -> str:
    values = sorted({row[column] for row in rows}, key=str)
    if len(values) != 1:
        raise DataError(f"{path}: column {column} must hold one value, found {', '.join(map(repr, values))}")
    return values[0]


def _dataset_rows(path: Path, columns, kind: str, dataset: str) -> list[dict]:
    """The rows of a `kind` CSV with `columns`, refused unless they are all of `dataset`."""
    rows = read_csv(Path(path), columns, kind)
    if _single(path, rows, "dataset") != dataset:
        raise DataError(f"{path}: {kind} is of dataset {rows[0]['dataset']!r}, but was given for {dataset!r}")
    return rows


def read_cka_table(path: Path, dataset: str) -> CkaTable:
    """Read one pair's long-form CKA table, refusing a missing column, another dataset, an
    incomplete layer grid, an unknown estimator, or a value that is not a finite number in the
    estimator's range ([0, 1] linear, [-1, 1] minibatch)."""
    path = Path(path)
    rows = _dataset_rows(path, CKA_COLUMNS, "CKA table", dataset)
    try:
        cells = {(int(row["layer_a"]), int(row["layer_b"])): float(row["cka"]) for row in rows}
    except (TypeError, ValueError) as exc:  # TypeError: a short row
        raise DataError(f"{path}: a layer or CKA value is not a number ({exc})") from exc
    shape = (max(a for a, _ in cells), max(b for _, b in cells))
    complete = set(np.ndindex(*shape)) == {(a - 1, b - 1) for a, b in cells}
    if not complete or len(cells) != len(rows):
        raise DataError(f"{path}: layers must form a {shape[0]} x {shape[1]} grid from 1, each pair of layers once")
    cka = np.empty(shape)
    for (a, b), value in cells.items():
        cka[a - 1, b - 1] = value
    estimator = _single(path, rows, "estimator")
    if estimator not in VALUE_RANGE:
        raise DataError(f"{path}: estimator {estimator!r} is not one of {', '.join(VALUE_RANGE)}")
    low, high = VALUE_RANGE[estimator]
    bad = ~np.isfinite(cka) | (cka < low - CKA_TOLERANCE) | (cka > high + CKA_TOLERANCE)
    if bad.any():
        a, b = np.argwhere(bad)[0] + 1
        raise DataError(
            f"{path}: CKA({a}, {b}) = {cka[a - 1, b - 1]} is not a number in [{low:g}, {high:g}] "
            f"(the range of the {estimator} estimator)"
        )
    model_a = _parse_model(path, _single(path, rows, "model_a"))
    model_b = _parse_model(path, _single(path, rows, "model_b"))
    if list(ARCH_TITLES).index(model_a[0]) > list(ARCH_TITLES).index(model_b[0]):
        # CKA is symmetric, so an (MLP, GMN) table is the transpose of a (GMN, MLP) one; with one
        # orientation per pairing, pairs from any order of config's architectures average together.
        model_a, model_b, cka = model_b, model_a, cka.T
    return CkaTable(
        path=path,
        dataset=dataset,
        model_a=model_a,
        model_b=model_b,
        cka=cka,
        estimator=estimator,
        probe_size=_single(path, rows, "probe_size"),
    )


def read_cka_tables(paths: list[Path], dataset: str) -> list[CkaTable]:
    """Read a dataset's CKA tables; they must compare distinct pairs with one estimator and probe size."""
    tables, seen = [], {}
    for path in paths:
        table = read_cka_table(path, dataset)
        if table.name in seen:
            raise DataError(f"{path}: pair {table.name} is also in {seen[table.name]}")
        if tables and (table.estimator, table.probe_size) != (tables[0].estimator, tables[0].probe_size):
            raise DataError(
                f"{path}: estimator {table.estimator!r} with probe size {table.probe_size!r} differs from "
                f"{tables[0].estimator!r} with {tables[0].probe_size!r} in {tables[0].path}"
            )
        seen[table.name] = path
        tables.append(table)
    return tables


def read_block_table(path: Path, dataset: str) -> tuple[str, dict[int, np.ndarray]]:
    """One pair's block table: its pair name (as CkaTable.name) and, per layer l it holds, v[j] =
    CKA(l, l) with probe block j left out; refusing another dataset, a layer without every block
    0..B-1 once, or a value that is not a number."""
    path = Path(path)
    rows = _dataset_rows(path, BLOCK_COLUMNS, "CKA block table", dataset)
    try:
        cells = {(int(row["layer"]), int(row["block"])): float(row["cka_without_block"]) for row in rows}
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: a layer, block or CKA value is not a number ({exc})") from exc
    layers, count = sorted({l for l, _ in cells}), max(j for _, j in cells) + 1
    if {(l, j) for l in layers for j in range(count)} != set(cells) or len(cells) != len(rows):
        raise DataError(f"{path}: every layer must have blocks 0..{count - 1}, each once")
    values = {l: np.array([cells[l, j] for j in range(count)]) for l in layers}
    models = sorted(
        (_parse_model(path, _single(path, rows, column)) for column in ("model_a", "model_b")),
        key=lambda model: list(ARCH_TITLES).index(model[0]),
    )
    return pair_name(tuple(models)), values


def by_pairing(tables: list[CkaTable]) -> dict[str, list[CkaTable]]:
    """The tables of each pairing present, in PAIRINGS order (read_cka_table orients every table
    as one of them); a pairing's tables must share one layer grid, so that they can be averaged."""
    groups = defaultdict(list)
    for table in tables:
        first = groups[table.pairing][0] if groups[table.pairing] else table
        if table.cka.shape != first.cka.shape:
            raise DataError(
                f"{table.path}: {' x '.join(map(str, table.cka.shape))} layers, but {first.path} has "
                f"{' x '.join(map(str, first.cka.shape))}; the pairs of a pairing must share their layers"
            )
        groups[table.pairing].append(table)
    return {name: groups[name] for name in PAIRINGS if name in groups}


def read_chance_floors(paths: list[Path], dataset: str) -> dict[Model, np.ndarray]:
    """Each model's chance CKA per layer (index l - 1), from the chance tables of `dataset`."""
    floors = {}
    for path in paths:
        rows = _dataset_rows(path, CHANCE_COLUMNS, "chance table", dataset)
        model = _parse_model(path, _single(path, rows, "model"))
        if model in floors:
            raise DataError(f"{path}: a second chance table of {model_id(model)}")
        try:
            values = {int(row["layer"]): float(row["chance_cka"]) for row in rows}
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: a layer or chance CKA is not a number ({exc})") from exc
        if sorted(values) != list(range(1, len(rows) + 1)) or not all(np.isfinite(list(values.values()))):
            raise DataError(f"{path}: layers must be 1..{len(rows)} once each, with finite chance CKA")
        floors[model] = np.array([values[l] for l in sorted(values)])
    return floors


def pairing_chance(floors: dict[Model, np.ndarray], tables: list[CkaTable], layer: int) -> float:
    """Mean chance CKA of `layer` over the distinct models of a pairing's tables."""
    models = {m for table in tables for m in (table.model_a, table.model_b)}
    missing = sorted(model_id(m) for m in models if m not in floors)
    if missing:
        raise DataError(f"{tables[0].path}: no chance table of {', '.join(missing)}")
    return float(np.mean([floors[m][layer - 1] for m in sorted(models)]))


# --- predictions of the activation dumps ----------------------------------------------------


@dataclass
class ProbePredictions:
    """Every model's predicted class on a dataset's probe samples, in the dumps' shared order."""

    image_index: np.ndarray
    label: np.ndarray
    by_model: dict[Model, np.ndarray]  # ordered by architecture (ARCH_TITLES), then seed


def read_predictions(paths: list[Path], dataset: str) -> ProbePredictions:
    """Predictions of each dump of `dataset`; every dump must list the same probe samples in the
    same order, as CKA and the per-sample comparisons rely on."""
    if not paths:
        raise DataError(f"no activation dumps given for dataset {dataset!r}")
    by_model, seen, first = {}, {}, None
    for path in paths:
        dump = dump_file.read(path)
        if dump.attrs.get("dataset") != dataset:
            raise DataError(f"{path}: a dump of dataset {dump.attrs.get('dataset')!r}, but was given for {dataset!r}")
        arch, seed = dump.attrs.get("arch"), dump.attrs.get("seed")
        if arch not in ARCH_TITLES or seed is None:
            raise DataError(f"{path}: attributes arch {arch!r} and seed {seed!r} do not name a model")
        model = (str(arch), int(seed))
        if model in seen:
            raise DataError(f"{path}: {model_id(model)} is also dumped in {seen[model]}")
        if first is None:
            first = (path, dump)
        elif not all(np.array_equal(getattr(dump, key), getattr(first[1], key)) for key in ("image_index", "label")):
            raise DataError(
                f"{path}: its probe samples (image_index, label) differ from those of {first[0]}; every dump "
                f"of a dataset must list the same samples in the same order"
            )
        seen[model] = path
        by_model[model] = dump.predictions
    ordered = dict(sorted(by_model.items(), key=lambda item: (list(ARCH_TITLES).index(item[0][0]), item[0][1])))
    return ProbePredictions(first[1].image_index, first[1].label, ordered)


def family_members(predictions: ProbePredictions, arch: str) -> np.ndarray:
    """(models of `arch`, samples): whether each of its models is right on each probe sample."""
    rows = [p == predictions.label for (a, _), p in predictions.by_model.items() if a == arch]
    return np.array(rows).reshape(-1, len(predictions.label))


def family_correctness(
    predictions: ProbePredictions, subject: str, image_archs: tuple[str, ...] = IMAGE_ARCHS
) -> tuple[np.ndarray, np.ndarray]:
    """(models of weight-space architecture `subject`, samples) and (models of `image_archs`,
    samples): whether each model is right on each probe sample."""
    image = [family_members(predictions, arch) for arch in image_archs]
    return family_members(predictions, subject), np.concatenate(image)


def weight_space_present(predictions: ProbePredictions) -> list[str]:
    """The weight-space architectures with dumps among `predictions`, in display order."""
    return [arch for arch in WEIGHT_SPACE_ARCHS if any(a == arch for a, _ in predictions.by_model)]


def agreement(predictions: ProbePredictions, model_a: Model, model_b: Model, source: Path) -> float:
    """Fraction of probe samples on which the two models predict the same class."""
    missing = [model_id(m) for m in (model_a, model_b) if m not in predictions.by_model]
    if missing:
        raise DataError(f"{source}: no activation dump of {', '.join(missing)} among the dataset's dumps")
    return float(np.mean(predictions.by_model[model_a] == predictions.by_model[model_b]))


# --- Table 2 ----------------------------------------------------------------------------------


def similarity_rows(
    tables_by_dataset: dict[str, list[Path]],
    dumps_by_dataset: dict[str, list[Path]],
    chance_by_dataset: dict[str, list[Path]],
    layers=(3, 4),
) -> list[dict]:
    """Table 2: per dataset and pairing, CKA(l, l) for each l in `layers` with its chance floor, and
    the prediction agreement rate; mean and std over the pairing's model pairs (those with a CKA table)."""
    rows = []
    for dataset in ordered_datasets(tables_by_dataset, dumps_by_dataset, chance_by_dataset):
        tables = read_cka_tables(tables_by_dataset[dataset], dataset)
        predictions = read_predictions(dumps_by_dataset[dataset], dataset)
        floors = read_chance_floors(chance_by_dataset[dataset], dataset)
        for name, group in by_pairing(tables).items():
            for table in group:
                table.require_layers(layers, matched=True)
            row = {"dataset": dataset, "pairing": name, "pairs": len(group)}
            for l in layers:
                mean, std = mean_std([table.cka[l - 1, l - 1] for table in group])
                row[f"cka_{l}_{l}_mean"], row[f"cka_{l}_{l}_std"] = round(mean, 4), round(std, 4)
                row[f"chance_{l}_{l}"] = round(pairing_chance(floors, group, l), 4)
            mean, std = mean_std([agreement(predictions, t.model_a, t.model_b, t.path) for t in group])
            row["agreement_mean"], row["agreement_std"] = round(mean, 4), round(std, 4)
            row["pair_list"] = " ".join(table.name for table in group)
            rows.append(row)
    return rows


def _similarity_cells(row: dict, layers, latex: bool) -> list[str]:
    return [
        DATASET_TITLES[row["dataset"]],
        pairing_title(row["pairing"]),
        *(
            cell
            for l in layers
            for cell in (
                plus_minus(row[f"cka_{l}_{l}_mean"], row[f"cka_{l}_{l}_std"], 3, latex),
                f"{row[f'chance_{l}_{l}']:.3f}",
            )
        ),
        plus_minus(row["agreement_mean"], row["agreement_std"], 3, latex),
        str(row["pairs"]),
    ]


def similarity_texts(rows: list[dict], layers) -> tuple[str, str]:
    """Table 2 as Markdown and as LaTeX."""
    header = [
        "Dataset",
        "Pairing",
        *(h for l in layers for h in (f"CKA({l}, {l})", "chance")),
        "Prediction agreement",
        "Pairs",
    ]
    markdown = markdown_table(header, [_similarity_cells(r, layers, latex=False) for r in rows])
    alignment = "ll" + "r" * (2 * len(layers) + 2)
    latex = latex_table(alignment, header, [_similarity_cells(r, layers, latex=True) for r in rows])
    return markdown, latex


def write_similarity_table(
    tables_by_dataset: dict[str, list[Path]],
    dumps_by_dataset: dict[str, list[Path]],
    chance_by_dataset: dict[str, list[Path]],
    layers,
    csv_path: Path,
    markdown_path: Path,
    latex_path: Path,
) -> list[dict]:
    rows = similarity_rows(tables_by_dataset, dumps_by_dataset, chance_by_dataset, layers)
    if not rows:
        raise DataError(f"{csv_path}: no CKA tables to tabulate")
    markdown, latex = similarity_texts(rows, layers)
    write_texts({Path(csv_path): to_csv(rows), Path(markdown_path): markdown, Path(latex_path): latex})
    return rows
