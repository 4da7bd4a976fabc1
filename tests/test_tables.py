"""Table 1 (accuracy_table) from metrics records, Table 2 (similarity_table) from CKA tables and
activation dumps, their CSV / Markdown / LaTeX files, and the readers they refuse bad inputs with
(model_metrics, cka_results, predictions)."""

import csv
import io
import json

import numpy as np
import pytest

from gmnrep.core.csv_files import to_csv
from gmnrep.core.errors import DataError
from gmnrep.paper import (
    accuracy_table,
    cka_results,
    family_comparison,
    model_metrics,
    predictions,
    similarity_table,
    spread,
    vocabulary,
)
from gmnrep.representations import dump_file, pairs, similarity


def record(dataset, arch, seed, test_acc, **extra):
    return {"dataset": dataset, "arch": arch, "seed": seed, "test_acc": test_acc, "val_acc": test_acc, **extra}


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
    rows = accuracy_table.accuracy_rows(RECORDS)
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
    rows = accuracy_table.accuracy_rows(RECORDS)
    assert [(r["dataset"], r["architecture"]) for r in rows] == [
        ("mnist", "gmn"),
        ("mnist", "mlp"),
        ("mnist", "cnn"),
        ("fashion_mnist", "mlp"),
        ("fashion_mnist", "cnn"),
        ("cifar10", "gmn"),
        ("digits", "gmn"),
        ("digits", "cnn"),
    ]
    assert accuracy_table.accuracy_rows(list(reversed(RECORDS))) == rows  # input order does not matter


def test_mean_std():
    assert spread.mean_std([0.5]) == (0.5, 0.0)
    mean, std = spread.mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5) and std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))


def write_metrics(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, rec in enumerate(records):
        path = folder / f"{rec['dataset']}-{rec['arch']}-{rec['seed']}-{k}.json"
        path.write_text(json.dumps({**rec, "history": [], "best_epoch": 1}))
        paths.append(path)
    return paths


def test_table_1_shows_the_target_and_stop_of_the_matched_networks():
    def matched(arch, seed, test_acc, val_acc, **stop):
        stop = {"target_val_acc": 0.5, **stop}
        return record("digits", arch, seed, test_acc, val_acc=val_acc, stop=stop)

    def by_steps(seed, step, test_acc, val_acc):
        return matched("mlpmatch", seed, test_acc, val_acc, method="steps", reached=step is not None, step=step)

    records = [record("digits", "gmn", s, 0.49, val_acc=0.5) for s in (0, 1)]
    records += [by_steps(1, 17, 0.50, 0.52), by_steps(0, 12, 0.48, 0.51), by_steps(2, None, 0.45, 0.47)]
    records += [matched("cnnmatch", s, 0.5, 0.5, method="data", train_samples=20 * (s + 1)) for s in (0, 1)]
    rows = {r["architecture"]: r for r in accuracy_table.accuracy_rows(records)}
    assert list(rows) == ["gmn", "mlpmatch", "cnnmatch"]
    assert rows["mlpmatch"]["target_val_acc"] == "50.00" and rows["gmn"]["target_val_acc"] == ""
    assert rows["mlpmatch"]["matched_at"] == "step 12, step 17, never"  # by seed; seed 2 never reached it
    assert rows["cnnmatch"]["matched_at"] == "20 samples, 40 samples"
    assert rows["mlpmatch"]["val_acc_mean"] == pytest.approx(50.0)
    cells = accuracy_table.accuracy_markdown(list(rows.values())).splitlines()[-2]
    assert cells == "| Digits | MLP (matched) | 47.67 ± 2.52 | 50.00 | 50.00 (step 12, step 17, never) | 3 |"


def test_write_accuracy_table_writes_csv_markdown_and_latex(tmp_path):
    records = [
        record("digits", "gmn", 0, 0.1134),
        record("digits", "gmn", 1, 0.1234),
        record("digits", "gmn", 2, 0.1334),
        record("digits", "mlp", 0, 0.95),
        record("mnist", "cnn", 3, 0.99),
    ]
    paths = write_metrics(tmp_path / "metrics", records)
    out = tmp_path / "tables"  # does not exist yet
    csv_path, md_path, tex_path = out / "t.csv", out / "t.md", out / "t.tex"
    rows = accuracy_table.write_accuracy_table(paths, csv_path, md_path, tex_path)
    assert rows == accuracy_table.accuracy_rows(records)

    parsed = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert list(parsed[0]) == [
        "dataset", "architecture", "seeds", "test_acc_mean", "test_acc_std", "val_acc_mean", "target_val_acc",
        "matched_at", "seed_list",
    ]  # fmt: skip
    assert [(r["dataset"], r["architecture"], r["seeds"]) for r in parsed] == [
        ("mnist", "cnn", "1"),
        ("digits", "gmn", "3"),
        ("digits", "mlp", "1"),
    ]
    assert float(parsed[1]["test_acc_mean"]) == pytest.approx(12.34)
    assert float(parsed[1]["test_acc_std"]) == pytest.approx(1.0)
    assert parsed[1]["seed_list"] == "0 1 2"
    assert float(parsed[0]["test_acc_mean"]) == pytest.approx(99.0) and float(parsed[0]["test_acc_std"]) == 0.0

    markdown = md_path.read_text().splitlines()
    assert (
        markdown[0] == "| Dataset | Architecture | Test accuracy (%) | Validation (%) | Matched to (val. %) | Seeds |"
    )
    assert markdown[1] == "|---|---|---|---|---|---|"
    assert markdown[2:] == [
        "| MNIST | CNN | 99.00 ± 0.00 | 99.00 |  | 1 |",
        "| Digits | GMN | 12.34 ± 1.00 | 12.34 |  | 3 |",
        "| Digits | MLP | 95.00 ± 0.00 | 95.00 |  | 1 |",
    ]

    latex = tex_path.read_text()
    assert latex.startswith("\\begin{tabular}{llrrlr}\n") and latex.endswith("\\end{tabular}\n")
    assert r"Dataset & Architecture & Test accuracy (\%) & Validation (\%) & Matched to (val. \%) & Seeds \\" in latex
    assert "MNIST & CNN & $99.00 \\pm 0.00$ & 99.00 &  & 1 \\\\\n" in latex
    assert latex.index("MNIST & CNN") < latex.index("Digits & GMN") < latex.index("Digits & MLP")
    assert "±" not in latex
    assert sorted(p.name for p in out.iterdir()) == ["t.csv", "t.md", "t.tex"]  # no temporaries left


def test_dataset_titles_in_the_tables(tmp_path):
    records = [record(d, "mlp", 0, 0.5) for d in ("fashion_mnist", "cifar10")]
    paths = write_metrics(tmp_path, records)
    accuracy_table.write_accuracy_table(paths, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert tmp_path.joinpath("t.md").read_text().splitlines()[2:] == [
        "| Fashion-MNIST | MLP | 50.00 ± 0.00 | 50.00 |  | 1 |",
        "| CIFAR-10 | MLP | 50.00 ± 0.00 | 50.00 |  | 1 |",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (json.dumps({"dataset": "digits", "arch": "gmn", "seed": 0}), "metrics lack test_acc, val_acc"),
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
        accuracy_table.write_accuracy_table([*good, bad], *outputs)
    assert str(bad) in str(info.value)
    assert not any(p.exists() for p in outputs)


def test_missing_metrics_file_is_refused_naming_it(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(DataError, match="not a readable metrics file") as info:
        model_metrics.read_metrics(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("content", ["3", "null", "true"])
def test_metrics_that_are_not_a_json_object_are_refused(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(DataError) as info:
        model_metrics.read_metrics(bad)
    assert str(bad) in str(info.value)


def test_the_same_model_recorded_twice_is_refused(tmp_path):
    record = {"dataset": "digits", "arch": "gmn", "seed": 0, "test_acc": 0.5, "val_acc": 0.5}
    paths = []
    for name in ("a.json", "b.json"):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(record))
    with pytest.raises(DataError, match="digits/gmn/0 is also recorded in"):
        accuracy_table.write_accuracy_table(paths, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex")
    assert not (tmp_path / "t.csv").exists()


def test_an_unknown_dataset_in_metrics_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"dataset": "svhn", "arch": "gmn", "seed": 0, "test_acc": 0.5, "val_acc": 0.5}))
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        model_metrics.read_metrics(path)


# --- Table 2 ----------------------------------------------------------------------------------
# Synthetic inputs in the pipeline's formats: a CKA table per model pair (gmnrep.representations.pairs) and an
# activation dump per model. test_figures.py builds on the same writers.

ARCHS = ["gmn", "mlp", "cnn"]
SEEDS = [0, 1, 2]
NUM_LAYERS = 5
NUM_CLASSES = 10


# known_cka's step between pairings: every pairing of the registry (vocabulary.PAIRINGS) stays below 1
PAIRING_STEP = 0.8 / len(vocabulary.PAIRINGS)


def known_cka(pairing_number: int, pair_number: int) -> np.ndarray:
    """CKA(l, a) of the pair_number-th pair of a pairing: PAIRING_STEP pairing + 0.01 l + 0.001 a
    + 0.02 pair, so that over three pairs the mean is the pair_number = 1 value and the std is 0.02."""
    l, a = np.meshgrid(np.arange(1, NUM_LAYERS + 1), np.arange(1, NUM_LAYERS + 1), indexing="ij")
    return PAIRING_STEP * pairing_number + 0.01 * l + 0.001 * a + 0.02 * pair_number


def write_cka_table(path, dataset, pair, cka, estimator="linear", probe_size=10):
    (arch_a, seed_a), (arch_b, seed_b) = pair
    rows = [
        {
            "dataset": dataset,
            "model_a": f"{arch_a}-{seed_a}",
            "model_b": f"{arch_b}-{seed_b}",
            "layer_a": l + 1,
            "layer_b": a + 1,
            "cka": cka[l, a],
            "estimator": estimator,
            "probe_size": probe_size,
        }
        for l, a in np.ndindex(*cka.shape)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_csv(rows))
    return path


def write_cka_tables(folder, dataset, archs=ARCHS, seeds=SEEDS) -> list:
    """The CKA table of every model pair, at results/cka/{dataset}/{pair}.csv, with known_cka values."""
    paths, numbers = [], {}
    for pair in pairs.model_pairs(archs, seeds):
        name = pairs.pairing(pair)
        numbers[name] = numbers.get(name, -1) + 1
        cka = known_cka(vocabulary.PAIRINGS.index(name), numbers[name])
        paths.append(write_cka_table(folder / dataset / f"{pairs.pair_name(pair)}.csv", dataset, pair, cka))
    return paths


def known_chance(arch, seed, layer) -> float:
    """The chance floor of a model's layer: 0.01 (architecture number + 1) + 0.002 seed + 0.003 layer,
    so that a pairing's floor (the mean over its distinct models) can be worked out by hand."""
    return 0.01 * (list(vocabulary.ARCH_TITLES).index(arch) + 1) + 0.002 * seed + 0.003 * layer


def write_chance_table(path, dataset, model, values, estimator="linear", probe_size=10):
    """A chance-floor table (similarity.CHANCE_COLUMNS): values[l - 1] is layer l's chance CKA."""
    rows = [
        {
            "dataset": dataset,
            "model": model,
            "layer": l,
            "chance_cka": value,
            "estimator": estimator,
            "probe_size": probe_size,
        }
        for l, value in enumerate(values, start=1)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_csv(rows, similarity.CHANCE_COLUMNS))
    return path


def write_chance_tables(folder, dataset, archs=ARCHS, seeds=SEEDS) -> list:
    """The chance table of every model, at results/cka/{dataset}/chance/{arch}-{seed}.csv, with known_chance values."""
    return [
        write_chance_table(
            folder / dataset / "chance" / f"{arch}-{seed}.csv",
            dataset,
            f"{arch}-{seed}",
            [known_chance(arch, seed, l) for l in range(1, NUM_LAYERS + 1)],
        )
        for arch in archs
        for seed in seeds
    ]


def expected_chance(archs, seeds, layer) -> float:
    """A pairing's chance floor when its pairs involve every model of `archs` x `seeds`."""
    return float(np.mean([known_chance(arch, seed, layer) for arch in set(archs) for seed in seeds]))


def write_dump(path, dataset, arch, seed, image_index, label, predicted):
    """An activation dump whose logits predict `predicted`."""
    n = len(image_index)
    logits = np.full((n, NUM_CLASSES), -1.0, dtype=np.float32)
    logits[np.arange(n), predicted] = 3.0
    rng = np.random.default_rng(seed)
    dump = dump_file.ActivationDump(
        layers=[rng.normal(size=(n, 4)).astype(np.float32) for _ in range(NUM_LAYERS)],
        image_index=np.asarray(image_index, dtype=np.int64),
        label=np.asarray(label, dtype=np.int64),
        logits=logits,
        attrs={"dataset": dataset, "arch": arch, "seed": seed, "num_layers": NUM_LAYERS},
    )
    dump_file.write(path, dump)
    return path


PROBE_INDEX = np.array([3, 4, 8, 9, 15, 16, 23, 42, 43, 50])
PROBE_LABEL = np.arange(10) % NUM_CLASSES


def wrong_on(label, positions):
    predicted = label.copy()
    predicted[list(positions)] = (label[list(positions)] + 1) % NUM_CLASSES
    return predicted


def agreement_dumps(folder, dataset, seeds=SEEDS) -> list:
    """GMN seed s is wrong on the first s + 1 samples, MLPs are always right, CNNs wrong on the last one.
    Agreement: GMN-GMN pairs 0.9, 0.9, 0.8; GMN-MLP 0.9, 0.8, 0.7; GMN-CNN 0.8, 0.7, 0.6 (a shared
    wrong answer is the same class); MLP-CNN 0.9; MLP-MLP and CNN-CNN 1."""
    wrong = {"gmn": lambda s: range(s + 1), "mlp": lambda s: [], "cnn": lambda s: [9]}
    return [
        write_dump(
            folder / dataset / arch / f"seed-{seed}.h5",
            dataset,
            arch,
            seed,
            PROBE_INDEX,
            PROBE_LABEL,
            wrong_on(PROBE_LABEL, wrong[arch](seed)),
        )
        for arch in ARCHS
        for seed in seeds
    ]


@pytest.fixture
def similarity_inputs(tmp_path):
    datasets = ["digits", "mnist"]
    cka = {d: write_cka_tables(tmp_path / "cka", d) for d in datasets}
    dumps = {d: agreement_dumps(tmp_path / "activations", d) for d in datasets}
    chance = {d: write_chance_tables(tmp_path / "cka", d) for d in datasets}
    return cka, dumps, chance


def test_similarity_rows_average_matched_layers_and_agreement_over_pairs(similarity_inputs):
    cka, dumps, chance = similarity_inputs
    rows = similarity_table.similarity_rows(cka, dumps, chance, layers=[3, 4])
    assert [(r["dataset"], r["pairing"]) for r in rows] == [
        (d, p) for d in ("mnist", "digits") for p in ("gmn-gmn", "mlp-mlp", "cnn-cnn", "gmn-mlp", "gmn-cnn", "mlp-cnn")
    ]
    by_key = {(r["dataset"], r["pairing"]): r for r in rows}
    for (_, name), row in by_key.items():
        number = vocabulary.PAIRINGS.index(name)
        assert row["pairs"] == 3
        for l in (3, 4):
            assert row[f"cka_{l}_{l}_mean"] == pytest.approx(PAIRING_STEP * number + 0.011 * l + 0.02, abs=1e-4)
            assert row[f"cka_{l}_{l}_std"] == pytest.approx(0.02, abs=1e-4)
            # the mean chance floor of the pairing's models (every seed of its one or two architectures)
            assert row[f"chance_{l}_{l}"] == pytest.approx(expected_chance(name.split("-"), SEEDS, l), abs=1e-4)
    assert by_key["digits", "gmn-mlp"]["chance_3_3"] == pytest.approx((0.01 + 0.06) / 2 + 0.002 + 0.009, abs=1e-4)
    expected_agreement = {
        "gmn-gmn": [0.9, 0.9, 0.8],
        "mlp-mlp": [1, 1, 1],
        "cnn-cnn": [1, 1, 1],
        "gmn-mlp": [0.9, 0.8, 0.7],
        "gmn-cnn": [0.8, 0.7, 0.6],
        "mlp-cnn": [0.9, 0.9, 0.9],
    }
    for name, values in expected_agreement.items():
        row = by_key["digits", name]
        assert row["agreement_mean"] == pytest.approx(np.mean(values), abs=1e-4)
        assert row["agreement_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-4)
    assert by_key["mnist", "gmn-gmn"]["pair_list"] == "gmn-0__gmn-1 gmn-1__gmn-2 gmn-2__gmn-0"
    assert by_key["mnist", "mlp-cnn"]["pair_list"] == "mlp-0__cnn-0 mlp-1__cnn-1 mlp-2__cnn-2"


def test_similarity_rows_for_another_layer_and_a_single_seed(tmp_path):
    # One seed: no pairs within an architecture and one pair per cross pairing (std 0).
    cka = {"digits": write_cka_tables(tmp_path / "cka", "digits", seeds=[7])}
    dumps = {"digits": agreement_dumps(tmp_path / "activations", "digits", seeds=[7])}
    chance = {"digits": write_chance_tables(tmp_path / "cka", "digits", seeds=[7])}
    rows = similarity_table.similarity_rows(cka, dumps, chance, layers=[5])
    assert [r["pairing"] for r in rows] == ["gmn-mlp", "gmn-cnn", "mlp-cnn"]
    assert list(rows[0]) == [
        "dataset",
        "pairing",
        "pairs",
        "cka_5_5_mean",
        "cka_5_5_std",
        "chance_5_5",
        "agreement_mean",
        "agreement_std",
        "pair_list",
    ]
    assert [r["chance_5_5"] for r in rows] == pytest.approx(
        [expected_chance(r["pairing"].split("-"), [7], 5) for r in rows], abs=1e-4
    )
    for row, agreement in zip(rows, [0.2, 0.1, 0.9]):  # GMN seed 7 is wrong on 8 of the 10 samples
        number = vocabulary.PAIRINGS.index(row["pairing"])
        assert row["pairs"] == 1 and row["cka_5_5_std"] == 0.0 and row["agreement_std"] == 0.0
        assert row["cka_5_5_mean"] == pytest.approx(PAIRING_STEP * number + 0.055, abs=1e-4)
        assert row["agreement_mean"] == pytest.approx(agreement)


def test_write_similarity_table_writes_csv_markdown_and_latex(similarity_inputs, tmp_path):
    cka, dumps, chance = similarity_inputs
    out = tmp_path / "tables"
    csv_path, md_path, tex_path = out / "table2.csv", out / "table2.md", out / "table2.tex"
    rows = similarity_table.write_similarity_table(cka, dumps, chance, [3, 4], csv_path, md_path, tex_path)
    assert rows == similarity_table.similarity_rows(cka, dumps, chance, [3, 4])

    parsed = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert len(parsed) == 12 and list(parsed[0]) == list(rows[0])
    assert parsed[0]["dataset"] == "mnist" and parsed[0]["pairing"] == "gmn-gmn" and parsed[0]["pairs"] == "3"
    assert float(parsed[0]["cka_3_3_mean"]) == pytest.approx(0.053)
    assert float(parsed[0]["agreement_std"]) == pytest.approx(0.0577)
    # GMN seeds 0, 1, 2: 0.01 + 0.002 (mean seed 1) + 0.003 l
    assert float(parsed[0]["chance_3_3"]) == pytest.approx(0.021) and float(parsed[0]["chance_4_4"]) == pytest.approx(
        0.024
    )

    markdown = md_path.read_text().splitlines()
    assert markdown[:2] == [
        "| Dataset | Pairing | CKA(3, 3) | chance | CKA(4, 4) | chance | Prediction agreement | Pairs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    assert markdown[2] == "| MNIST | GMN-GMN | 0.053 ± 0.020 | 0.021 | 0.064 ± 0.020 | 0.024 | 0.867 ± 0.058 | 3 |"
    assert markdown[7] == "| MNIST | MLP-CNN | 0.533 ± 0.020 | 0.076 | 0.544 ± 0.020 | 0.079 | 0.900 ± 0.000 | 3 |"
    assert markdown[8].startswith("| Digits | GMN-GMN |") and len(markdown) == 14

    latex = tex_path.read_text()
    assert latex.startswith("\\begin{tabular}{llrrrrrr}\n") and latex.endswith("\\end{tabular}\n")
    assert "Dataset & Pairing & CKA(3, 3) & chance & CKA(4, 4) & chance & Prediction agreement & Pairs \\\\\n" in latex
    assert (
        "MNIST & GMN-MLP & $0.249 \\pm 0.020$ & 0.046 & $0.260 \\pm 0.020$ & 0.049 & $0.800 \\pm 0.100$ & 3 \\\\\n"
        in latex
    )
    assert "±" not in latex
    assert sorted(p.name for p in out.iterdir()) == ["table2.csv", "table2.md", "table2.tex"]


def edit_rows(path, edit):
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    path.write_text(to_csv(edit(rows)))


def set_cell(column, value, row=0):
    def edit(rows):
        rows[row][column] = value
        return rows

    return edit


def drop_column(column):
    return lambda rows: [{k: v for k, v in r.items() if k != column} for r in rows]


BAD_CKA_TABLES = {
    "missing column": (drop_column("cka"), "lacks column\\(s\\) cka"),
    "value above 1": (set_cell("cka", "1.5", row=7), r"CKA\(2, 3\) = 1.5 is not a number in \[0, 1\]"),
    "NaN": (set_cell("cka", "nan", row=24), r"CKA\(5, 5\) = nan"),
    "negative": (set_cell("cka", "-0.01"), r"CKA\(1, 1\) = -0.01"),
    "not a number": (set_cell("cka", "high"), "not a number"),
    "another dataset": (lambda rows: [{**r, "dataset": "mnist"} for r in rows], "of dataset 'mnist'"),
    "two datasets": (set_cell("dataset", "mnist"), "column dataset must hold one value"),
    "a layer twice": (set_cell("layer_b", "2"), "5 x 5 grid"),
    "a missing layer": (lambda rows: rows[:-1], "5 x 5 grid"),
    "bad model": (lambda rows: [{**r, "model_a": "resnet-0"} for r in rows], "model 'resnet-0'"),
}


@pytest.mark.parametrize("problem", BAD_CKA_TABLES)
def test_bad_cka_tables_are_refused_naming_the_file(similarity_inputs, tmp_path, problem):
    cka, dumps, chance = similarity_inputs
    edit, message = BAD_CKA_TABLES[problem]
    bad = cka["digits"][4]
    edit_rows(bad, edit)
    outputs = [tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex"]
    with pytest.raises(DataError, match=message) as info:
        similarity_table.write_similarity_table(cka, dumps, chance, [3, 4], *outputs)
    assert str(bad) in str(info.value)
    assert not any(p.exists() for p in outputs)


def test_cka_values_within_rounding_of_the_bounds_are_accepted(tmp_path):
    cka = np.full((2, 3), 1 + 1e-12)
    cka[0, 0] = -1e-12
    path = write_cka_table(tmp_path / "t.csv", "digits", (("gmn", 0), ("mlp", 0)), cka)
    table = cka_results.read_cka_table(path, "digits")
    assert table.cka.shape == (2, 3) and table.pairing == "gmn-mlp" and table.name == "gmn-0__mlp-0"


@pytest.mark.parametrize(
    ("estimator", "accepted", "refused"), [("linear", 0.0, -0.0056), ("minibatch", -0.0056, -1.0001)]
)
def test_cka_values_are_checked_against_their_estimators_range(tmp_path, estimator, accepted, refused):
    """Debiased (minibatch) CKA can be slightly negative between unrelated layers; linear CKA cannot."""
    pair = (("gmn", 0), ("mlp", 0))
    cka = np.full((2, 2), 0.5)
    cka[1, 0] = accepted
    table = cka_results.read_cka_table(write_cka_table(tmp_path / "ok.csv", "digits", pair, cka, estimator), "digits")
    assert table.cka[1, 0] == accepted and table.estimator == estimator
    cka[1, 0] = refused
    path = write_cka_table(tmp_path / "bad.csv", "digits", pair, cka, estimator)
    with pytest.raises(DataError, match=rf"CKA\(2, 1\) = {refused} is not a number in .*{estimator} estimator"):
        cka_results.read_cka_table(path, "digits")


def test_a_table_of_the_architectures_in_another_order_is_read_transposed(tmp_path):
    cka = np.arange(6).reshape(2, 3) / 10  # 2 MLP layers x 3 GMN layers
    path = write_cka_table(tmp_path / "mlp-0__gmn-0.csv", "digits", (("mlp", 0), ("gmn", 0)), cka)
    table = cka_results.read_cka_table(path, "digits")
    assert (table.model_a, table.model_b, table.pairing) == (("gmn", 0), ("mlp", 0), "gmn-mlp")
    np.testing.assert_array_equal(table.cka, cka.T)


def test_short_rows_are_refused_naming_the_file(tmp_path):
    path = write_cka_table(tmp_path / "t.csv", "digits", (("gmn", 0), ("mlp", 0)), np.full((2, 2), 0.5))
    path.write_text(path.read_text() + "digits,gmn-0,mlp-0,3\n")
    with pytest.raises(DataError, match="not a number") as info:
        cka_results.read_cka_table(path, "digits")
    assert str(path) in str(info.value)


def test_matched_layers_beyond_either_model_are_refused_naming_the_file(tmp_path):
    cka = np.arange(15).reshape(5, 3) / 20  # a 5-layer gmn-0 against a 3-layer mlp-0
    path = write_cka_table(tmp_path / "gmn-0__mlp-0.csv", "digits", (("gmn", 0), ("mlp", 0)), cka)
    dumps = agreement_dumps(tmp_path, "digits", seeds=[0])
    chance = {"digits": write_chance_tables(tmp_path, "digits", seeds=[0])}
    (row,) = similarity_table.similarity_rows({"digits": [path]}, {"digits": dumps}, chance, layers=[3])
    assert row["cka_3_3_mean"] == cka[2, 2]  # each numbers its own layers
    with pytest.raises(DataError, match=r"mlp-0: layer 4 \(its own numbering\) is none of the layers 1..3") as info:
        similarity_table.similarity_rows({"digits": [path]}, {"digits": dumps}, chance, layers=[3, 4])
    assert str(path) in str(info.value)
    # numbered as in the 5-layer networks and aligned at the top, layers 4 and 5 of the mlp are its 2 and 3
    (row,) = similarity_table.similarity_rows({"digits": [path]}, {"digits": dumps}, chance, [4, 5], deepest=5)
    assert (row["cka_4_4_mean"], row["cka_5_5_mean"]) == (cka[3, 1], cka[4, 2])


def test_cka_tables_of_one_dataset_must_be_distinct_pairs_with_one_estimator(tmp_path):
    pair = (("gmn", 0), ("mlp", 0))
    first = write_cka_table(tmp_path / "a.csv", "digits", pair, np.full((5, 5), 0.5))
    again = write_cka_table(tmp_path / "b.csv", "digits", pair, np.full((5, 5), 0.5))
    with pytest.raises(DataError, match=f"pair gmn-0__mlp-0 is also in {first}"):
        cka_results.read_cka_tables([first, again], "digits")
    other_pair = (("gmn", 1), ("mlp", 1))
    other = write_cka_table(tmp_path / "c.csv", "digits", other_pair, np.full((5, 5), 0.5), estimator="minibatch")
    with pytest.raises(DataError, match="estimator 'minibatch'") as info:
        cka_results.read_cka_tables([first, other], "digits")
    assert str(other) in str(info.value)


def test_cka_tables_of_one_pairing_must_share_their_layers(tmp_path):
    small = write_cka_table(tmp_path / "a.csv", "digits", (("gmn", 0), ("mlp", 0)), np.full((5, 5), 0.5))
    large = write_cka_table(tmp_path / "b.csv", "digits", (("gmn", 1), ("mlp", 1)), np.full((5, 6), 0.5))
    with pytest.raises(DataError, match="5 x 6 layers, but") as info:
        cka_results.by_pairing(cka_results.read_cka_tables([small, large], "digits"))
    assert str(large) in str(info.value)


def test_dumps_listing_other_probe_samples_are_refused_naming_the_file(tmp_path):
    dumps = agreement_dumps(tmp_path, "digits", seeds=[0, 1])
    reversed_label = PROBE_LABEL[::-1]
    reordered = write_dump(tmp_path / "odd.h5", "digits", "cnn", 5, PROBE_INDEX[::-1], reversed_label, reversed_label)
    with pytest.raises(DataError, match="differ from those of") as info:
        predictions.read_predictions([*dumps, reordered], "digits")
    assert str(reordered) in str(info.value) and str(dumps[0]) in str(info.value)
    with pytest.raises(DataError, match="mlp-1 is also dumped in"):
        predictions.read_predictions([*dumps, dumps[3]], "digits")
    with pytest.raises(DataError, match="a dump of dataset 'digits', but was given for 'mnist'"):
        predictions.read_predictions(dumps, "mnist")


def test_a_pair_without_dumps_is_refused_naming_its_cka_table(tmp_path):
    cka = write_cka_tables(tmp_path / "cka", "digits")
    dumps = [p for p in agreement_dumps(tmp_path / "activations", "digits") if "cnn" not in str(p)]
    chance = write_chance_tables(tmp_path / "cka", "digits")
    with pytest.raises(DataError, match="no activation dump of cnn-0") as info:
        similarity_table.similarity_rows({"digits": cka}, {"digits": dumps}, {"digits": chance})
    assert "cnn-0__cnn-1.csv" in str(info.value)


def test_a_pair_without_chance_tables_is_refused_naming_its_cka_table(tmp_path):
    cka = write_cka_tables(tmp_path / "cka", "digits")
    dumps = agreement_dumps(tmp_path / "activations", "digits")
    chance = [p for p in write_chance_tables(tmp_path / "cka", "digits") if p.stem not in ("mlp-1", "mlp-2")]
    with pytest.raises(DataError, match="no chance table of mlp-1, mlp-2") as info:
        similarity_table.similarity_rows({"digits": cka}, {"digits": dumps}, {"digits": chance})
    assert "mlp-0__mlp-1.csv" in str(info.value)


def test_a_pairings_chance_floor_is_the_mean_over_its_distinct_models(tmp_path):
    # GMN seed 0 against MLP seeds 0 and 1: three distinct models, though four model slots
    cka = [
        write_cka_table(tmp_path / f"gmn-0__mlp-{s}.csv", "digits", (("gmn", 0), ("mlp", s)), np.full((5, 5), 0.5))
        for s in (0, 1)
    ]
    dumps = agreement_dumps(tmp_path / "activations", "digits", seeds=[0, 1])
    chance = write_chance_tables(tmp_path / "cka", "digits", seeds=[0, 1])
    (row,) = similarity_table.similarity_rows({"digits": cka}, {"digits": dumps}, {"digits": chance}, layers=[2])
    distinct = np.mean([known_chance("gmn", 0, 2), known_chance("mlp", 0, 2), known_chance("mlp", 1, 2)])
    assert row["pairing"] == "gmn-mlp" and row["chance_2_2"] == pytest.approx(distinct, abs=1e-4)
    assert row["chance_2_2"] != pytest.approx(  # not the mean over the pairs' slots
        np.mean([known_chance("gmn", 0, 2)] * 2 + [known_chance("mlp", 0, 2), known_chance("mlp", 1, 2)]), abs=1e-4
    )


def test_inputs_for_different_datasets_are_refused(similarity_inputs):
    cka, dumps, chance = similarity_inputs
    with pytest.raises(DataError, match="different datasets"):
        similarity_table.similarity_rows(cka, {"digits": dumps["digits"]}, chance)
    with pytest.raises(DataError, match="different datasets"):
        similarity_table.similarity_rows(cka, dumps, {"mnist": chance["mnist"]})


def chance_good(tmp_path, name="gmn-0", dataset="digits"):
    arch, seed = name.rsplit("-", 1)
    return write_chance_table(
        tmp_path / "chance" / f"{name}.csv", dataset, name, [known_chance(arch, int(seed), l) for l in range(1, 4)]
    )


BAD_CHANCE_TABLES = {
    "missing column": (drop_column("chance_cka"), "lacks column\\(s\\) chance_cka"),
    "another dataset": (
        lambda rows: [{**r, "dataset": "mnist"} for r in rows],
        "of dataset 'mnist', but was given for 'digits'",
    ),
    "not a number": (set_cell("chance_cka", "low", row=1), "not a number"),
    "a layer not a number": (set_cell("layer", "two", row=1), "not a number"),
    "NaN": (set_cell("chance_cka", "nan", row=2), "finite chance CKA"),
    "a layer twice": (set_cell("layer", "1", row=1), "layers must be 1..3 once each"),
    "two models": (set_cell("model", "gmn-1", row=2), "column model must hold one value"),
    "bad model": (lambda rows: [{**r, "model": "resnet-0"} for r in rows], "model 'resnet-0'"),
}


@pytest.mark.parametrize("problem", BAD_CHANCE_TABLES)
def test_bad_chance_tables_are_refused_naming_the_file(tmp_path, problem):
    edit, message = BAD_CHANCE_TABLES[problem]
    good, bad = chance_good(tmp_path, "gmn-0"), chance_good(tmp_path, "mlp-0")
    assert set(cka_results.read_chance_floors([good, bad], "digits")) == {("gmn", 0), ("mlp", 0)}
    edit_rows(bad, edit)
    with pytest.raises(DataError, match=message) as info:
        cka_results.read_chance_floors([good, bad], "digits")
    assert str(bad) in str(info.value)


def test_chance_tables_given_for_another_dataset_or_twice_are_refused_naming_the_file(tmp_path):
    good = chance_good(tmp_path, "cnn-2")
    floors = cka_results.read_chance_floors([good], "digits")
    np.testing.assert_allclose(floors["cnn", 2], [known_chance("cnn", 2, l) for l in (1, 2, 3)])
    with pytest.raises(DataError, match="of dataset 'digits', but was given for 'mnist'") as info:
        cka_results.read_chance_floors([good], "mnist")
    assert str(good) in str(info.value)
    again = write_chance_table(tmp_path / "copy" / "cnn-2.csv", "digits", "cnn-2", [0.1, 0.1, 0.1])
    with pytest.raises(DataError, match="a second chance table of cnn-2") as info:
        cka_results.read_chance_floors([good, again], "digits")
    assert str(again) in str(info.value)
    missing = tmp_path / "absent.csv"
    with pytest.raises(DataError, match="not a readable chance table") as info:
        cka_results.read_chance_floors([missing], "digits")
    assert str(missing) in str(info.value)


# --- the weight-space families side by side ------------------------------------------------------

FAMILIES = ["gmn", "scalegmn", "mlp", "cnn"]


def family_inputs(tmp_path):
    tables = write_cka_tables(tmp_path / "cka", "digits", FAMILIES, SEEDS)
    records = [
        record("digits", arch, seed, 0.1 * (k + 1) + 0.01 * seed, num_parameters=100 * (k + 1))
        for k, arch in enumerate(FAMILIES)
        for seed in SEEDS
    ]
    return {"digits": tables}, write_metrics(tmp_path / "metrics", records)


def known_mean(pairing: str, layer: int) -> float:
    """known_cka's CKA(l, l) averaged over the three pairs of a pairing (pairs 0, 1, 2: the middle one)."""
    return PAIRING_STEP * vocabulary.PAIRINGS.index(pairing) + 0.011 * layer + 0.02


def test_family_rows_give_each_family_its_seed_to_seed_and_image_cka_and_its_accuracy(tmp_path):
    tables, metrics = family_inputs(tmp_path)
    rows = family_comparison.family_rows(tables, metrics, [3, 4])
    assert [row["architecture"] for row in rows] == FAMILIES  # the families, then the image networks
    scalegmn = rows[1]
    assert scalegmn["seeds"] == 3 and scalegmn["parameters"] == 200
    assert scalegmn["test_acc_mean"] == pytest.approx(21.0) and scalegmn["test_acc_std"] == pytest.approx(1.0)
    for layer in (3, 4):
        for partner, pairing in (("seeds", "scalegmn-scalegmn"), ("mlp", "scalegmn-mlp"), ("cnn", "scalegmn-cnn")):
            assert scalegmn[f"cka_{layer}_{partner}_mean"] == pytest.approx(known_mean(pairing, layer), abs=1e-4)
            assert scalegmn[f"cka_{layer}_{partner}_std"] == pytest.approx(0.02, abs=1e-4)
            assert scalegmn[f"cka_{layer}_{partner}_pairs"] == 3
    mlp = rows[2]  # an image network is compared with its own seeds and the other image network
    assert "cka_3_mlp_mean" not in mlp and mlp["cka_3_cnn_mean"] == pytest.approx(known_mean("mlp-cnn", 3), abs=1e-4)


def test_the_family_table_and_figure_are_written(tmp_path):
    tables, metrics = family_inputs(tmp_path)
    out = [tmp_path / name for name in ("families.pdf", "families.csv", "families.md", "families.tex")]
    family_comparison.write_family_comparison(tables, metrics, [3, 4], *out)
    markdown = out[2].read_text().splitlines()
    header = "| Dataset | Architecture | Test accuracy (%) | Parameters | CKA(3, 3) seed to seed | CKA(3, 3) to MLP |"
    assert markdown[0].startswith(header)
    assert markdown[3].startswith("| Digits | ScaleGMN | 21.00 ± 1.00 | 200 |")
    mlp_cells = [cell.strip() for cell in markdown[4].split("|")[1:-1]]
    assert mlp_cells[1] == "MLP" and mlp_cells[5] == mlp_cells[8] == ""  # no "to MLP" for the MLP itself
    assert "\\pm" in out[3].read_text() and "±" not in out[3].read_text()
    content = out[0].read_bytes()
    assert content.startswith(b"%PDF-") and len(content) > 5000


def test_a_run_without_a_weight_space_family_is_refused(tmp_path):
    tables = write_cka_tables(tmp_path / "cka", "digits", ["mlp", "cnn"], SEEDS)
    metrics = write_metrics(tmp_path / "metrics", [record("digits", "mlp", 0, 0.5)])
    with pytest.raises(DataError, match="digits: no weight-space architecture has seed-to-seed CKA tables"):
        family_comparison.family_rows({"digits": tables}, metrics, [3])
