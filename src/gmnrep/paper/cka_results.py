"""The CKA jobs' tables as the paper reads them (gmnrep.representations.similarity writes them):
each model pair's CKA between layers, its CKA with each probe block left out, and each model's
chance floor; each refused unless it is complete, of the dataset it was given for, and in range.
read_cka_table orients every table as one of the pairings of gmnrep.paper.vocabulary."""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.csv_files import read_csv
from gmnrep.core.errors import DataError
from gmnrep.paper.vocabulary import ARCH_TITLES, PAIRINGS
from gmnrep.representations.cka import VALUE_RANGE
from gmnrep.representations.compared_layers import own_layer
from gmnrep.representations.pairs import Model, model_id, pair_name, pairing, parse_model_id
from gmnrep.representations.similarity import BLOCK_COLUMNS, CHANCE_COLUMNS
from gmnrep.representations.similarity import COLUMNS as CKA_COLUMNS

# CKA is in its estimator's range (cka.VALUE_RANGE) up to floating-point rounding.
CKA_TOLERANCE = 1e-9


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

    def own_layer(self, layer: int, deepest: int | None, side: int) -> int:
        """Compared layer `layer` (gmnrep.representations.compared_layers) as a layer of model_a
        (side 0) or model_b (side 1); DataError naming the table and the model if it has none."""
        model = (self.model_a, self.model_b)[side]
        try:
            return own_layer(layer, self.cka.shape[side], deepest)
        except ValueError as exc:
            raise DataError(f"{self.path}: {model_id(model)}: {exc}") from exc

    def compared(self, layer: int, deepest: int | None) -> float:
        """CKA(l, l) of compared layer l: each model's own layer of it."""
        return float(self.cka[self.own_layer(layer, deepest, 0) - 1, self.own_layer(layer, deepest, 1) - 1])


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


def pairing_chance(floors: dict[Model, np.ndarray], tables: list[CkaTable], layer: int, deepest: int | None) -> float:
    """Mean chance CKA of compared layer `layer` (each model's own layer of it) over the distinct
    models of a pairing's tables."""
    models = {m for table in tables for m in (table.model_a, table.model_b)}
    missing = sorted(model_id(m) for m in models if m not in floors)
    if missing:
        raise DataError(f"{tables[0].path}: no chance table of {', '.join(missing)}")
    try:
        return float(np.mean([floors[m][own_layer(layer, len(floors[m]), deepest) - 1] for m in sorted(models)]))
    except ValueError as exc:
        raise DataError(f"{tables[0].path}: chance floors: {exc}") from exc
