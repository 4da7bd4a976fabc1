"""Table 2: for each pairing of architectures (GMN-GMN, ..., MLP-CNN), CKA between matched layers,
read from the per-pair CKA tables, and how often the two models predict the same class, from their
activation dumps; each as mean ± std over the pairing's model pairs. Beside each CKA column, its
chance floor: the mean over the pairing's models of CKA between the layer and the layer with its
probe samples shuffled (gmnrep.representations.similarity), what unrelated representations give.
Written as CSV, Markdown and LaTeX."""

from pathlib import Path

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.cka_results import by_pairing, pairing_chance, read_chance_floors, read_cka_tables
from gmnrep.paper.predictions import agreement, read_predictions
from gmnrep.paper.spread import mean_std
from gmnrep.paper.text_tables import latex_table, markdown_table, plus_minus
from gmnrep.paper.vocabulary import DATASET_TITLES, ordered_datasets, pairing_title


def similarity_rows(
    tables_by_dataset: dict[str, list[Path]],
    dumps_by_dataset: dict[str, list[Path]],
    chance_by_dataset: dict[str, list[Path]],
    layers=(3, 4),
    deepest: int | None = None,
) -> list[dict]:
    """Table 2: per dataset and pairing, CKA(l, l) for each l in `layers` (numbered as in networks of
    `deepest` layers: gmnrep.representations.compared_layers) with its chance floor, and the
    prediction agreement rate; mean and std over the pairing's model pairs (those with a CKA table)."""
    rows = []
    for dataset in ordered_datasets(tables_by_dataset, dumps_by_dataset, chance_by_dataset):
        tables = read_cka_tables(tables_by_dataset[dataset], dataset)
        predictions = read_predictions(dumps_by_dataset[dataset], dataset)
        floors = read_chance_floors(chance_by_dataset[dataset], dataset)
        for name, group in by_pairing(tables).items():
            row = {"dataset": dataset, "pairing": name, "pairs": len(group)}
            for l in layers:
                mean, std = mean_std([table.compared(l, deepest) for table in group])
                row[f"cka_{l}_{l}_mean"], row[f"cka_{l}_{l}_std"] = round(mean, 4), round(std, 4)
                row[f"chance_{l}_{l}"] = round(pairing_chance(floors, group, l, deepest), 4)
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
    deepest: int | None = None,
) -> list[dict]:
    rows = similarity_rows(tables_by_dataset, dumps_by_dataset, chance_by_dataset, layers, deepest)
    if not rows:
        raise DataError(f"{csv_path}: no CKA tables to tabulate")
    markdown, latex = similarity_texts(rows, layers)
    write_texts({Path(csv_path): to_csv(rows), Path(markdown_path): markdown, Path(latex_path): latex})
    return rows
