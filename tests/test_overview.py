"""overview.py: the report's first page, from a run's claims table, Table 1 and INR summaries,
rendered by docutils as Snakemake's report renders it."""

import pytest
from docutils.core import publish_parts

from gmnrep.core.csv_files import to_csv
from gmnrep.core.errors import DataError
from gmnrep.paper import claims_table, overview
from gmnrep.paper.accuracy_table import ACCURACY_COLUMNS


def claim_row(dataset, claim, verdict, reason="why", **values):
    row = {column: "" for column in claims_table.COLUMNS}
    row.update(
        dataset=dataset, claim=claim, subject="gmn", verdict=verdict, comparison="GMN-GMN < MLP-MLP", reason=reason
    )
    row.update(values)
    return row


ROWS = [
    claim_row("fashion_mnist", "C1", "holds", layer=3, value=0.2, ci_low=0.1, ci_high=0.3),
    claim_row("fashion_mnist", "C1", "inconclusive", layer=4, value=0.0, ci_low=-0.1, ci_high=0.1),
    claim_row("fashion_mnist", "C3", "does not hold", reason="P(count <= 1) = 7e-05 *not* a_link_", value=1),
    claim_row("digits", "C2", "confounded", layer=3, value=0.3, ci_low=0.2, ci_high=0.4),
]


def accuracy_row(dataset, arch, mean, std):
    return {column: "" for column in ACCURACY_COLUMNS} | {
        "dataset": dataset,
        "architecture": arch,
        "seeds": 5,
        "test_acc_mean": mean,
        "test_acc_std": std,
    }


@pytest.fixture
def run_files(tmp_path):
    claims_path = tmp_path / "claims.csv"
    claims_path.write_text(to_csv(ROWS, claims_table.COLUMNS))
    accuracy = tmp_path / "table1.csv"
    rows = [accuracy_row("fashion_mnist", "gmn", 48.32, 0.93), accuracy_row("fashion_mnist", "mlp", 78.76, 1.24)]
    rows.append(accuracy_row("digits", "mlpmatch", 55.12, 1.4))
    accuracy.write_text(to_csv(rows, ACCURACY_COLUMNS))
    summaries = {}
    for dataset, test in (("fashion_mnist", 500), ("digits", 16)):
        summaries[dataset] = tmp_path / f"{dataset}-summary.csv"
        summaries[dataset].write_text(
            f"split,inrs,psnr_median\ntrain,2000,26.3\nval,250,25.9\ntest,{test},26.1\nall,{2250 + test},26.27\n"
        )
    return summaries, accuracy, claims_path


def rendered(text: str) -> str:
    """The HTML docutils makes of `text` after a paragraph, as workflow/report/workflow.rst includes
    it, failing on any warning (a broken table, an unknown role)."""
    page = "This run:\n\n" + text
    return publish_parts(page, writer="html", settings_overrides={"halt_level": 2})["body"]


def test_the_first_page_says_what_was_run_and_every_verdict(run_files, tmp_path):
    summaries, accuracy, claims_path = run_files
    output = tmp_path / "overview.rst"
    settings = overview.RunSettings(
        preset="fmnist_scalegmn",
        seeds=[0, 1, 2, 3, 4],
        probe_size=100,
        estimator="linear",
        imported={"digits": "test_set"},
    )
    overview.write_overview(settings, summaries, accuracy, claims_path, output)
    html = rendered(output.read_text())
    assert "Preset:" in html and ">fmnist_scalegmn<" in html  # as written, no escape shown
    assert "5 (0-4) per architecture" in html
    # where the INRs come from: fitted, or a standard set
    assert "Fashion-MNIST: 2,000 train, 250 val, 500 test; median PSNR 26.3 dB" in html
    assert "Digits (imported from the standard set" in html and ">test_set<" in html
    # the probe samples: probe_size of the test INRs, or all of them when there are fewer
    assert "Fashion-MNIST: 100; Digits: 16 test images" in html
    assert "48.3 ± 0.9" in html and "78.8 ± 1.2" in html and "55.1 ± 1.4" in html
    # one line per dataset and claim, then one verdict table per dataset (Fashion-MNIST first)
    assert html.count("<li>") == 3
    assert "Fashion-MNIST, C1, GMN</strong> (seed sensitivity)" in html
    assert 'class="verdict-mixed">mixed: 1 holds, 1 inconclusive' in html
    assert html.count('class="verdict-table') == 2
    assert html.index("Verdict table: Fashion-MNIST") < html.index("Verdict table: Digits")
    assert '<span class="verdict-does-not-hold">does not hold</span>' in html
    assert "[0.100, 0.300]" in html and "p = " not in html.split("Verdict table: Digits")[1]
    # a reason's characters are text, not markup
    assert "P(count &lt;= 1) = 7e-05 *not* a_link_" in html


def test_seeds_are_listed_when_not_consecutive():
    assert overview._seeds([0, 3]) == "2 (0, 3)"
    assert overview._seeds([2, 3, 4]) == "3 (2-4)"


def test_the_first_page_refuses_a_table_without_its_columns(run_files, tmp_path):
    summaries, accuracy, claims_path = run_files
    accuracy.write_text("dataset,architecture\nfashion_mnist,gmn\n")
    settings = overview.RunSettings(preset="x", seeds=[0], probe_size=None, estimator="linear", imported={})
    output = tmp_path / "overview.rst"
    with pytest.raises(DataError, match="table1.csv: accuracy table \\(Table 1\\) lacks column"):
        overview.write_overview(settings, summaries, accuracy, claims_path, output)
    assert not output.exists()
