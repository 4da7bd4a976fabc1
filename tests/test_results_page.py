"""`gmnrep findings` (`make results-page`): docs/results.md from a run's claims table and the
provenance record of the job that wrote it; experiments themselves change no tracked file."""

import subprocess
from pathlib import Path

from conftest import REPO
from gmnrep.core.csv_files import to_csv
from gmnrep.core.numerics import PINNED
from gmnrep.paper import claims_table
from gmnrep.provenance import cli, records

ROW = {
    "dataset": "digits",
    "claim": "C1",
    "subject": "gmn",
    "comparison": "GMN-GMN < MLP-MLP",
    "layer": 3,
    "verdict": claims_table.HOLDS,
    "statistic": "difference of mean CKA",
    "value": 0.25,
    "ci_low": 0.1,
    "ci_high": 0.4,
    "p_value": "",
    "expected": "",
    "chance_cka": 0.01,
    "accuracy_gap": "",
    "sample_size": "3 GMNs, 3 MLPs",
    "reason": "GMN-GMN 0.6 vs MLP-MLP 0.85",
}


def finished_run(results: Path, numerics: dict) -> Path:
    """A results folder holding a claims table and the provenance record of the job that wrote it."""
    table = results / "tables/claims.csv"
    table.parent.mkdir(parents=True)
    table.write_text(to_csv([ROW], claims_table.COLUMNS))
    record = records.JobRecord(
        rule="claims",
        wildcards={},
        inputs=[],
        outputs=[records.file_entry(table)],
        params={},
        params_hash="",
        script={},
        library_sha256="",
        git={"commit": "0123456789abcdef", "dirty": False},
        python="3.11",
        packages={},
        hardware={"cpu": "AMD EPYC", "gpu": None, "cpus_allowed": 2},
        host="laptop",
        start="2026-12-05T03:00:00+00:00",
        end="2026-12-05T03:12:40+00:00",
        numerics=numerics,
    )
    records.write_record(record, results / "audit")
    return table


def test_the_results_page_names_its_command_and_run_then_states_the_findings(tmp_path):
    table = finished_run(tmp_path / "results", {**PINNED, "aten_capability": "AVX2"})
    page = tmp_path / "results.md"
    assert cli.main(["findings", str(table), str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Results\n")
    assert f"`gmnrep findings {table} {page}`" in text
    assert f"| `{table}` | `0123456` | pinned | AMD EPYC | 2026-12-05 03:12 |" in text
    assert text.endswith(claims_table.findings_markdown(claims_table.read_claims(table), str(table)))


def test_the_page_says_native_or_not_recorded_when_the_run_was_not_pinned(tmp_path):
    native = finished_run(tmp_path / "native", {name: None for name in PINNED})
    assert "| native |" in cli.results_page(native, tmp_path / "page.md")
    before_numerics_were_recorded = finished_run(tmp_path / "old", {})
    assert "| not recorded |" in cli.results_page(before_numerics_were_recorded, tmp_path / "page.md")


def test_a_claims_table_its_job_did_not_write_is_refused_and_the_page_kept(tmp_path, capsys):
    table = finished_run(tmp_path / "results", {})
    page = tmp_path / "results.md"
    page.write_text("the page as it was\n")
    table.write_text(table.read_text().replace("0.85", "0.95"))
    assert cli.main(["findings", str(table), str(page)]) == 2
    assert "not the bytes its job recorded" in capsys.readouterr().err
    (tmp_path / "results/audit/jobs/claims/job.json").unlink()
    assert cli.main(["findings", str(table), str(page)]) == 2
    assert "no provenance record" in capsys.readouterr().err
    assert page.read_text() == "the page as it was\n"


def test_experiments_change_no_tracked_file_and_only_results_page_writes_the_page():
    def commands(target: str) -> str:
        # the install's own commands left out (-o): whether it is due depends on this checkout's venv
        return subprocess.run(
            ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", target],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    for target in ("demo", "smoke", "fmnist", "fmnist-scalegmn"):
        assert "snakemake" in commands(target) and "docs/" not in commands(target) and ">" not in commands(target)
    assert commands("results-page").strip().endswith("gmnrep findings results/fmnist/tables/claims.csv docs/results.md")
