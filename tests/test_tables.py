"""tables.py: Table 1 rows from metrics records, and the CSV / Markdown / LaTeX files."""

import csv
import io
import json

import numpy as np
import pytest

from gmnrep import tables
from gmnrep.errors import DataError


def record(dataset, arch, seed, test_acc, **extra):
    return {"dataset": dataset, "arch": arch, "seed": seed, "test_acc": test_acc, **extra}


# Given out of order on purpose: the rows come out by dataset, then architecture.
RECORDS = [
    record("digits", "cnn", 0, 0.90),
    record("mnist", "mlp", 2, 0.981),
    record("digits", "gmn", 1, 0.50),
    record("mnist", "mlp", 0, 0.975),
    record("cifar10", "gmn", 0, 0.4),
    record("fashion_mnist", "cnn", 4, 0.9),
    record("mnist", "gmn", 0, 0.95),
    record("digits", "gmn", 0, 0.40),
    record("mnist", "mlp", 1, 0.978),
    record("digits", "gmn", 2, 0.45),
    record("fashion_mnist", "mlp", 3, 0.85),
    record("mnist", "cnn", 0, 0.99),
]


def test_accuracy_rows_mean_and_sample_std_in_percent():
    rows = tables.accuracy_rows(RECORDS)
    by_key = {(r["dataset"], r["architecture"]): r for r in rows}
    digits_gmn = by_key["digits", "gmn"]
    assert digits_gmn["seeds"] == 3
    assert digits_gmn["test_acc_mean"] == pytest.approx(45.0)
    assert digits_gmn["test_acc_std"] == pytest.approx(5.0)  # ddof 1: sqrt((25 + 0 + 25) / 2)
    assert digits_gmn["seed_list"] == "0 1 2"
    mnist_mlp = by_key["mnist", "mlp"]
    values = [97.5, 97.8, 98.1]
    assert mnist_mlp["seeds"] == 3
    assert mnist_mlp["test_acc_mean"] == pytest.approx(round(np.mean(values), 2))
    assert mnist_mlp["test_acc_std"] == pytest.approx(round(np.std(values, ddof=1), 2))
    assert mnist_mlp["test_acc_std"] == pytest.approx(0.3)  # not the population std, 0.24
    for key in [("digits", "cnn"), ("mnist", "gmn"), ("cifar10", "gmn"), ("fashion_mnist", "mlp")]:
        assert by_key[key]["seeds"] == 1 and by_key[key]["test_acc_std"] == 0.0
    assert by_key["fashion_mnist", "mlp"]["test_acc_mean"] == pytest.approx(85.0)
    assert by_key["fashion_mnist", "cnn"]["seed_list"] == "4"


def test_accuracy_rows_are_ordered_by_dataset_then_architecture():
    rows = tables.accuracy_rows(RECORDS)
    assert [(r["dataset"], r["architecture"]) for r in rows] == [
        ("mnist", "gmn"), ("mnist", "mlp"), ("mnist", "cnn"),
        ("fashion_mnist", "mlp"), ("fashion_mnist", "cnn"),
        ("cifar10", "gmn"),
        ("digits", "gmn"), ("digits", "cnn"),
    ]
    assert tables.accuracy_rows(list(reversed(RECORDS))) == rows  # input order does not matter


def test_mean_std():
    assert tables.mean_std([0.5]) == (0.5, 0.0)
    mean, std = tables.mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5) and std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))


def write_metrics(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, rec in enumerate(records):
        path = folder / f"{rec['dataset']}-{rec['arch']}-{rec['seed']}-{k}.json"
        path.write_text(json.dumps({**rec, "history": [], "best_epoch": 1}))
        paths.append(path)
    return paths


def test_write_accuracy_table_writes_csv_markdown_and_latex(tmp_path):
    records = [
        record("digits", "gmn", 0, 0.1134), record("digits", "gmn", 1, 0.1234), record("digits", "gmn", 2, 0.1334),
        record("digits", "mlp", 0, 0.95), record("mnist", "cnn", 3, 0.99),
    ]
    paths = write_metrics(tmp_path / "metrics", records)
    out = tmp_path / "tables"  # does not exist yet
    csv_path, md_path, tex_path = out / "t.csv", out / "t.md", out / "t.tex"
    rows = tables.write_accuracy_table(paths, csv_path, md_path, tex_path)
    assert rows == tables.accuracy_rows(records)

    parsed = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert list(parsed[0]) == ["dataset", "architecture", "seeds", "test_acc_mean", "test_acc_std", "seed_list"]
    assert [(r["dataset"], r["architecture"], r["seeds"]) for r in parsed] == [
        ("mnist", "cnn", "1"), ("digits", "gmn", "3"), ("digits", "mlp", "1"),
    ]
    assert float(parsed[1]["test_acc_mean"]) == pytest.approx(12.34)
    assert float(parsed[1]["test_acc_std"]) == pytest.approx(1.0)
    assert parsed[1]["seed_list"] == "0 1 2"
    assert float(parsed[0]["test_acc_mean"]) == pytest.approx(99.0) and float(parsed[0]["test_acc_std"]) == 0.0

    markdown = md_path.read_text().splitlines()
    assert markdown[0] == "| Dataset | Architecture | Test accuracy (%) | Seeds |"
    assert markdown[1] == "|---|---|---|---|"
    assert markdown[2:] == [
        "| MNIST | CNN | 99.00 ± 0.00 | 1 |",
        "| Digits | GMN | 12.34 ± 1.00 | 3 |",
        "| Digits | MLP | 95.00 ± 0.00 | 1 |",
    ]

    latex = tex_path.read_text()
    assert latex.startswith("\\begin{tabular}{llrr}\n") and latex.endswith("\\end{tabular}\n")
    assert r"Dataset & Architecture & Test accuracy (\%) & Seeds \\" in latex
    assert "MNIST & CNN & $99.00 \\pm 0.00$ & 1 \\\\\n" in latex
    assert "Digits & GMN & $12.34 \\pm 1.00$ & 3 \\\\\n" in latex
    assert latex.index("MNIST & CNN") < latex.index("Digits & GMN") < latex.index("Digits & MLP")
    assert "±" not in latex
    assert sorted(p.name for p in out.iterdir()) == ["t.csv", "t.md", "t.tex"]  # no temporaries left


def test_dataset_titles_in_the_tables(tmp_path):
    records = [record(d, "mlp", 0, 0.5) for d in ("fashion_mnist", "cifar10")]
    paths = write_metrics(tmp_path, records)
    tables.write_accuracy_table(paths, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert tmp_path.joinpath("t.md").read_text().splitlines()[2:] == [
        "| Fashion-MNIST | MLP | 50.00 ± 0.00 | 1 |",
        "| CIFAR-10 | MLP | 50.00 ± 0.00 | 1 |",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (json.dumps({"dataset": "digits", "arch": "gmn", "seed": 0}), "metrics lack test_acc"),
        (json.dumps({"dataset": "digits", "test_acc": 0.5}), "metrics lack arch, seed"),
        ('{"dataset": "digits", "arch": "gmn", "seed": 0, "test_a', "not a readable metrics file"),
        ("", "not a readable metrics file"),
    ],
)
def test_bad_metrics_files_are_refused_naming_the_file(tmp_path, content, message):
    good = write_metrics(tmp_path, [record("digits", "gmn", 0, 0.5)])
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    outputs = [tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex"]
    with pytest.raises(DataError, match=message) as info:
        tables.write_accuracy_table([*good, bad], *outputs)
    assert str(bad) in str(info.value)
    assert not any(p.exists() for p in outputs)


def test_missing_metrics_file_is_refused_naming_it(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(DataError, match="not a readable metrics file") as info:
        tables.read_metrics(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("content", ["3", "null", "true"])
def test_metrics_that_are_not_a_json_object_are_refused(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(DataError) as info:
        tables.read_metrics(bad)
    assert str(bad) in str(info.value)


def test_the_same_model_recorded_twice_is_refused(tmp_path):
    record = {"dataset": "digits", "arch": "gmn", "seed": 0, "test_acc": 0.5}
    paths = []
    for name in ("a.json", "b.json"):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(record))
    with pytest.raises(DataError, match="digits/gmn/0 is also recorded in"):
        tables.write_accuracy_table(paths, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert not (tmp_path / "t.csv").exists()


def test_an_unknown_dataset_in_metrics_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"dataset": "svhn", "arch": "gmn", "seed": 0, "test_acc": 0.5}))
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        tables.read_metrics(path)
