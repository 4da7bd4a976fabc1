"""End to end: Snakemake itself on the real workflow, in a scratch working directory."""

import csv
import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

import browser
from conftest import PRESETS, REPO, planned_jobs, preset_config, preset_files, rule_counts, run
from gmnrep.data import dataset_file
from gmnrep.inr import shards
from gmnrep.models import checkpoints, registry
from gmnrep.paper import claims_table
from gmnrep.provenance import audit
from gmnrep.representations import dump_file

pytestmark = pytest.mark.e2e
# the smoke preset's trained and matched architectures
ARCHS = ("gmn", "scalegmn", "mlp", "cnn", "cnnmatch")


def representation_layers(arch: str) -> int:
    """L of `arch` in the smoke preset: 3 for ScaleGMN's 2 message-passing layers, 5 for the others."""
    network = registry.network_arch(arch)
    return registry.get(network).representation_layers(preset_config("smoke")["models"][network]["network"])


def test_smoke_run_builds_data_and_inr_shards_for_digits_and_fashion_mnist(smoke_run):
    workdir = smoke_run.workdir
    results = workdir / "results/smoke"
    for dataset, n_images in [("digits", 1797), ("fashion_mnist", 70000)]:
        data, attrs = dataset_file.read(results / f"data/{dataset}.h5")
        assert len(data) == n_images
        paths = sorted((results / f"inrs/{dataset}").glob("shard-*.h5"))
        assert [p.name for p in paths] == ["shard-0.h5", "shard-1.h5"]
        loaded = [shards.read(p) for p in paths]
        index = np.concatenate([s.image_index for s in loaded])
        assert len(index) == 80 and len(np.unique(index)) == 80  # 48 + 16 + 16, each once
        split = np.concatenate([s.split for s in loaded])
        assert np.bincount(split, minlength=3).tolist() == [48, 16, 16]
        np.testing.assert_array_equal(np.concatenate([s.label for s in loaded]), data.labels[index])
        assert all(np.isfinite(s.psnr).all() and (s.steps <= 150).all() for s in loaded)
        assert (results / f"inrs/{dataset}/summary.csv").is_file()
        assert (workdir / f"logs/smoke/inrs/{dataset}/shard-0.log").read_text().count("done in") == 1
    # Debian's recompressed copy was accepted and recorded
    with h5py.File(results / "data/fashion_mnist.h5") as f:
        assert "f4a8712d7a061bf5bd6d2ca38dc4d50a" in f.attrs["source_content_md5"]
        assert "train-images-idx3-ubyte.gz" in f.attrs["source_files"]


def test_smoke_run_trains_every_architecture_and_seed_and_writes_table1(smoke_run):
    workdir = smoke_run.workdir
    results = workdir / "results/smoke"
    for dataset in ("digits", "fashion_mnist"):
        for arch in ARCHS:
            for seed in (0, 1):
                model, payload = checkpoints.load(results / f"models/{dataset}/{arch}/seed-{seed}.pt")
                assert payload["arch"] == arch and payload["info"]["seed"] == seed
                assert model.num_layers == representation_layers(arch)
                metrics = json.loads((results / f"models/{dataset}/{arch}/seed-{seed}.metrics.json").read_text())
                assert metrics["samples"] == {"train": 48, "val": 16, "test": 16}
                # a matched twin stops within its 2 epochs, or runs them all when its target is out of reach
                assert len(metrics["history"]) == 2 if "match" not in arch else 1 <= len(metrics["history"]) <= 2
                assert metrics["device"] == "cpu"
                log = workdir / f"logs/smoke/models/{dataset}/{arch}/seed-{seed}.log"
                assert f"{dataset}/{arch}/seed-{seed}" in log.read_text()
                # Snakemake's own record of the job's time and memory (benchmark:), beside the logs
                benchmark = workdir / f"logs/smoke/benchmarks/models/{dataset}/{arch}/seed-{seed}.tsv"
                header, values = (line.split("\t") for line in benchmark.read_text().splitlines())
                record = dict(zip(header, values, strict=True))
                assert float(record["s"]) > 0 and float(record["max_rss"]) > 0
    with open(results / "tables/table1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["dataset"], r["architecture"], r["seeds"]) for r in rows] == [
        (d, a, "2") for d in ("fashion_mnist", "digits") for a in ARCHS
    ]
    assert (results / "tables/table1.md").read_text().count("\n") == 2 + 2 * len(ARCHS)
    assert "\\begin{tabular}" in (results / "tables/table1.tex").read_text()


def test_smoke_run_dumps_activations_compares_models_and_draws_figures(smoke_run):
    workdir = smoke_run.workdir
    results = workdir / "results/smoke"
    for dataset in ("digits", "fashion_mnist"):
        dumps = [dump_file.read(results / f"activations/{dataset}/{a}/seed-{s}.h5") for a in ARCHS for s in (0, 1)]
        assert all(len(d.layers) == representation_layers(d.attrs["arch"]) for d in dumps)
        assert all(len(d.image_index) == 16 for d in dumps)
        assert all(np.array_equal(d.image_index, dumps[0].image_index) for d in dumps)
        tables = sorted(p.name for p in (results / f"cka/{dataset}").glob("*.csv") if ".blocks" not in p.suffixes)
        blocks = sorted(p.name.replace(".blocks", "") for p in (results / f"cka/{dataset}").glob("*.blocks.csv"))
        assert blocks == tables  # each pair's CKA(l, l) without each probe block, beside its table
        # cka.pairs: all: the one seed pair within each architecture, every seed pair across
        assert tables == sorted(
            [f"{a}-0__{a}-1.csv" for a in ARCHS]
            + [f"{a}-{s}__{b}-{t}.csv" for a, b in itertools.combinations(ARCHS, 2) for s in (0, 1) for t in (0, 1)]
        )
        chance = sorted(p.name for p in (results / f"cka/{dataset}/chance").glob("*.csv"))
        assert chance == sorted(f"{a}-{s}.csv" for a in ARCHS for s in (0, 1))
        with open(results / f"cka/{dataset}/gmn-0__mlp-0.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 25 and {r["probe_size"] for r in rows} == {"16"}
        assert all(0 <= float(r["cka"]) <= 1 + 1e-9 for r in rows)
        with open(results / f"cka/{dataset}/gmn-0__scalegmn-0.csv") as f:
            assert len(list(csv.DictReader(f))) == 5 * 3  # every layer pair of a 5-layer GMN and a 3-layer ScaleGMN
    for figure in ("fig2", "fig3", "fig4"):
        assert (results / f"figures/{figure}.pdf").read_bytes().startswith(b"%PDF")
    with open(results / "tables/table2.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["dataset"] for r in rows} == {"digits", "fashion_mnist"}
    assert all(0 <= float(r["chance_3_3"]) <= 1 and r["pairs"] in ("1", "2") for r in rows)  # the paper's pairs
    with open(results / "tables/claims.csv") as f:
        claims = list(csv.DictReader(f))
    # per dataset, claim, subject (GMN, then ScaleGMN) and image family (converged, then matched): C1
    # and C2 at layers 3 and 4 against two pairings each; C3's stratified count, its two reference tests
    # against the family's other image architecture and the reverse count (context); 2 seeds give no
    # jackknife over models, so every C1 / C2 verdict is inconclusive
    assert [(r["dataset"], r["claim"], r["subject"]) for r in claims] == [
        (d, c, s) for d in ("fashion_mnist", "digits") for c in ("C1", "C2", "C3") for s in ARCHS[:2] for _ in range(8)
    ]
    assert [("matched" in r["comparison"]) for r in claims[:48]] == ([False] * 4 + [True] * 4) * 6
    assert all(r["comparison"].startswith(("GMN", "every GMN")) for r in claims[:8] + claims[16:24])
    assert all(r["comparison"].startswith(("ScaleGMN", "every ScaleGMN")) for r in claims[8:16] + claims[24:32])
    assert {r["verdict"] for r in claims if r["claim"] != "C3"} == {"inconclusive"}
    c3 = [r["verdict"] for r in claims if r["claim"] == "C3"]
    assert all(set(c3[i : i + 3]) <= {"holds", "does not hold", "inconclusive"} for i in range(0, 32, 4))
    assert c3[3::4] == ["context"] * 8
    with open(results / "tables/fig4_counts.csv") as f:
        assert {r["dataset"] for r in csv.DictReader(f)} == {"digits", "fashion_mnist"}
    # two weight-space architectures: the families side by side, each with its seeds' CKA and the image networks'
    with open(results / "tables/families.csv") as f:
        families = list(csv.DictReader(f))
    assert [(r["dataset"], r["architecture"]) for r in families] == [
        (d, a) for d in ("fashion_mnist", "digits") for a in ARCHS[:4]
    ]
    for row in families:
        assert row["seeds"] == "2" and 0 <= float(row["cka_3_seeds_mean"]) <= 1 and row["cka_3_seeds_pairs"] == "1"
        assert 0 <= float(row["cka_4_cnn_mean"] if row["architecture"] != "cnn" else row["cka_4_mlp_mean"]) <= 1


def test_debiased_cka_runs_through_the_claims(smoke_run, tmp_path):
    """The minibatch estimator with one batch of every probe sample is debiased CKA (unbiased HSIC);
    its values may be slightly negative, which the tables and claims accept (digits, the GMNs, MLPs
    and CNNs alone: every pair of theirs is computed again, no training)."""
    workdir = smoke_run.copy(tmp_path / "run")
    debiased = tmp_path / "debiased.yaml"
    debiased.write_text(
        "datasets: [digits]\ncka: {estimator: minibatch, minibatch_size: 16}\n"
        "models: {architectures: [gmn, mlp, cnn], matched: {architectures: []}}\n"
    )
    args = smoke_run.args(directory=workdir)
    args.insert(args.index("--config"), str(debiased))  # one more config file, after the preset
    run([*args, "--cores", "2", "results/smoke/tables/claims.csv", "results/smoke/tables/table2.csv"], cwd=workdir)
    results = workdir / "results/smoke"
    with open(results / "cka/digits/gmn-0__mlp-0.csv") as f:
        assert {r["estimator"] for r in csv.DictReader(f)} == {"minibatch"}
    with open(results / "tables/claims.csv") as f:
        claims = list(csv.DictReader(f))
    # the GMN against the MLPs and CNNs: C1 and C2 two comparisons at two layers each, C3 four rows
    assert len(claims) == 12 and all(r["verdict"] for r in claims)
    assert any("probe blocks" in r["sample_size"] for r in claims if r["claim"] == "C1")


@pytest.fixture(scope="module")
def smoke_report(smoke_run):
    report = smoke_run.workdir / "report.html"
    run(smoke_run.args("--report", str(report)), cwd=smoke_run.workdir)
    return report


def test_the_report_holds_every_figure_table_and_the_audit_summary(smoke_report):
    report = smoke_report
    html = report.read_text(errors="replace")
    for name in (
        "fig2.pdf",
        "fig3.pdf",
        "fig4.pdf",
        "training_curves/digits.pdf",
        "reconstructions.pdf",
        "fig4_counts.csv",
        "table1.csv",
        "table2.csv",
        "summary.csv",
        "claims.csv",
        "families.pdf",
        "families.csv",
    ):
        assert name in html, name
    # the landing page (workflow/report/workflow.rst) says what was run and shows the verdicts,
    # read from this run's claims table (results/smoke/report/overview.rst); the claims are a
    # category of their own
    assert "Where each result comes from" in html and "Preset:" in html and "Verdict table: Digits" in html
    assert "GMN-GMN &lt; MLP-MLP" in html and "verdict-inconclusive" in html
    assert '"Findings"' in html and '"Audit"' in html
    # under results/ the audit lists it as a report, not as a file nobody made (tests/test_audit.py)
    assert audit.is_snakemake_report(report)


def test_the_report_reads_in_a_browser(smoke_run, smoke_report, tmp_path):
    """The landing page at 1400 and 1000 px as a person sees it: its top in the window, the verdict
    tables inside the window and their text column with nothing drawn over them; every category
    opens by clicking and lists files; every figure of the run is listed."""
    reason = browser.unavailable()
    if reason:
        pytest.skip(reason)
    with browser.chromium() as driver:
        # a laptop's window, and a narrower one in which the rule graph no longer fits beside the text
        for width in (browser.WIDTH, 1000):
            driver.set_window_size(width, browser.HEIGHT)
            browser.open_report(driver, smoke_report)
            problems = browser.landing_problems(driver)
            screenshot = tmp_path / f"landing-{width}.png"
            browser.scroll_to_top(driver)
            driver.save_screenshot(str(screenshot))
            assert not problems, "\n".join([*problems, f"screenshot: {screenshot}"])
        listed = browser.listed_files(driver, smoke_report)
    assert sorted(listed) == ["Audit", "Figures", "Findings", "INRs", "Tables"]
    results = smoke_run.workdir / "results/smoke"
    figures = {str(p.relative_to(smoke_run.workdir)) for p in results.rglob("*.pdf")}
    assert len(figures) == 8  # fig2-4, the families, training curves and INRs of each of the two datasets
    assert figures <= {path for files in listed.values() for path in files}


def paper_plan(tmp_path, *args) -> dict[str, int]:
    """Jobs per rule that the paper-scale settings (config.yaml, with `args`) plan."""
    return planned_jobs(tmp_path, *args, "--configfile", str(REPO / "config.yaml"))


def test_paper_scale_dry_run_lists_download_data_and_14_mnist_shards(tmp_path):
    counts = paper_plan(tmp_path, "results/inrs/mnist/summary.csv")
    assert counts == {"fetch_raw": 4, "prepare_data": 1, "fit_inr_shard": 14, "summarize_inrs": 1, "total": 20}


@pytest.fixture(scope="module")
def paper_dag(preset_jobs) -> Counter:
    """The whole paper-scale DAG's jobs per rule."""
    return rule_counts(preset_jobs("paper"))


def test_paper_scale_dry_run_trains_3_datasets_x_3_architectures_x_5_seeds(paper_dag):
    counts = paper_dag
    assert counts["train_model"] == 45 and counts["table1"] == 1
    assert counts["train_matched"] == 3 * 2 * 5  # an MLP and a CNN twin per dataset and seed
    # MNIST and Fashion-MNIST: 70k INRs in 14 shards each; CIFAR-10: 60k in 12
    assert counts["fit_inr_shard"] == 14 + 14 + 12 and counts["prepare_data"] == 3


def test_paper_scale_dry_run_compares_every_seed_pair_by_default(paper_dag):
    counts = paper_dag
    # cka.pairs: all; per dataset 5 architectures (the matched twins among them) x 10 seed pairs
    # within and 10 pairings x 25 across
    assert counts["cka_pair"] == 3 * (5 * 10 + 10 * 25) == 900
    assert counts["prepare_cka"] == 75 and counts["claims"] == 1 and counts["table2"] == 1


def test_paper_scale_dry_run_with_the_papers_cyclic_pairs(tmp_path):
    # a nested --config value is merged over config.yaml's cka block, not put in its place
    counts = paper_plan(tmp_path, "--config", "cka={'pairs': 'cyclic'}")
    # per dataset 5 architectures x 5 cyclic seed pairs within and 10 pairings x 5 same-seed pairs across
    assert counts["cka_pair"] == 3 * (5 * 5 + 10 * 5) == 225
    assert counts["prepare_cka"] == 75 and counts["claims"] == 1 and counts["table2"] == 1


def test_a_run_without_the_matched_control_plans_the_papers_models_alone(tmp_path):
    counts = paper_plan(tmp_path, "--config", "models={'matched': {'architectures': []}}")
    assert "train_matched" not in counts and counts["train_model"] == 45
    assert counts["cka_pair"] == 3 * (3 * 10 + 3 * 25) == 315 and counts["prepare_cka"] == 45


def test_paper_scale_with_imported_inr_sets_plans_no_fit_for_them(tmp_path):
    # MNIST from DWSNets' set, Fashion-MNIST from neural-graphs' (docs/design.md, "Standard INR sets");
    # the archives' folders need only exist for the plan
    folders = {name: tmp_path / name for name in ("mnist-inrs", "fmnist_inrs")}
    for folder in folders.values():
        folder.mkdir()
    imported = tmp_path / "imported.yaml"
    imported.write_text(
        "inr:\n  imported:\n"
        f"    mnist: {{set: dwsnets_mnist, folder: {folders['mnist-inrs']}}}\n"
        f"    fashion_mnist: {{set: ng_fashion_mnist, folder: {folders['fmnist_inrs']}}}\n"
    )
    counts = planned_jobs(tmp_path, "--configfile", str(REPO / "config.yaml"), str(imported))
    # per imported dataset one job checks its archive, then 14 write its shards (55000 + 5000 +
    # 10000 INRs); CIFAR-10 is still fitted (12 shards); everything downstream is planned as before
    assert counts["import_inr_archive"] == 2 and counts["import_inr_shard"] == 28
    assert counts["fit_inr_shard"] == 12 and counts["prepare_data"] == 3 and counts["summarize_inrs"] == 3
    assert counts["train_model"] == 45 and counts["cka_pair"] == 900


def test_fmnist_preset_plans_the_paper_experiment_on_fashion_mnist_alone(preset_jobs):
    counts = rule_counts(preset_jobs("fmnist"))
    assert counts["fit_inr_shard"] == 4 and counts["prepare_data"] == 1
    # 3 architectures and 2 matched twins x 5 seeds; every seed pair: 5 pairings within (10 seed pairs
    # each) and 10 across (25 each)
    assert counts["train_model"] == 15 and counts["train_matched"] == 10 and counts["dump_activations"] == 25
    assert counts["cka_pair"] == 5 * 10 + 10 * 25
    assert counts["cka_figure"] == 1 and counts["sample_figure"] == 1 and counts["table2"] == 1
    assert counts["claims"] == 1


def test_paper_scale_dry_run_of_figure_2_lists_every_job_from_download_to_figure(tmp_path):
    counts = paper_plan(tmp_path, "results/figures/fig2.pdf")
    assert counts == {
        "fetch_raw": 4,
        "prepare_data": 1,
        "fit_inr_shard": 14,
        "train_model": 15,
        "train_matched": 10,
        "dump_activations": 25,
        "prepare_cka": 25,
        "cka_pair": 75,
        "cka_figure": 1,
        "total": 170,
    }


def test_a_further_config_file_changes_a_nested_key_for_snakemake_as_for_the_audit(tmp_path):
    """One more --configfile after the preset: Snakemake's layering and gmnrep.config.layered (what
    `gmnrep audit` reads) agree, a nested key changed and its siblings kept."""
    from gmnrep import config
    from gmnrep.inr import planning

    mine = tmp_path / "mine.yaml"
    mine.write_text("inr: {shard_size: 20}\ndatasets: [digits]\n")
    files = [*preset_files("smoke"), mine]
    counts = planned_jobs(tmp_path, "--configfile", *map(str, files))
    layered = config.layered(files)
    assert layered["inr"]["subset"] == config.layered(preset_files("smoke"))["inr"]["subset"]
    sizes = config.dataset_split_sizes(layered, "digits")
    assert counts["fit_inr_shard"] == planning.shard_count(sizes, layered["inr"]["subset"], 20) == 80 // 20


def test_bad_config_is_refused_before_any_job_with_the_key_named(tmp_path):
    proc = run(
        [
            "--directory",
            str(tmp_path),
            "--configfile",
            *map(str, preset_files("smoke")),
            "--dry-run",
            "--config",
            "datasets=[mnst]",
            "inr={'shard_size': 'big'}",
        ],
        cwd=tmp_path,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "datasets[0]: 'mnst' is not one of" in out
    assert "inr.shard_size: 'big' is not of type 'integer'" in out
    assert not any(tmp_path.glob("results*"))


def test_presets_write_to_separate_folders(preset_jobs):
    """Every output but the raw downloads, which all presets share (each file checksum-verified)."""
    outputs = {}
    for preset in PRESETS:
        raw = Path(preset_config(preset)["raw_dir"])
        files = {Path(path) for job in preset_jobs(preset).values() for path in job["outputs"]}
        outputs[preset] = {path for path in files if not path.is_relative_to(raw)}
    assert all(outputs.values())
    for a, b in itertools.combinations(outputs, 2):
        assert not outputs[a] & outputs[b], (a, b)


def test_ruff_snakemake_lint_and_snakefmt_are_clean():
    for check in (["ruff", "format", "--check", "."], ["ruff", "check", "."]):
        ruff = subprocess.run([sys.executable, "-m", *check], cwd=REPO, capture_output=True, text=True)
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    lint = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_an_experiment_writes_its_findings_under_its_results(smoke_run):
    """The claims job writes the run's findings summary beside its tables (the results page is
    written from a run by `make results-page`, never by the run: tests/test_results_page.py)."""
    tables = smoke_run.workdir / "results/smoke/tables"
    rows = claims_table.read_claims(tables / "claims.csv")
    assert (tables / "findings.md").read_text() == claims_table.findings_markdown(
        rows, "results/smoke/tables/claims.csv"
    )
