"""Reliability of whole runs: a killed writer leaves nothing behind, another seed gives other
models, and Snakemake plans exactly the jobs a change makes out of date (interrupted runs:
test_interrupted_runs.py).

Compared artifacts: every file under results/ (data, INR shards and their summaries, checkpoints
and metrics, activation dumps, CKA operands and pair tables, figures, tables), except the
provenance records under results/*/audit/, which hold each run's own times and host.
"""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import (
    SmokeRun,
    largest_child_rss_mb,
    planned_jobs,
    run,
)
from gmnrep.core.atomic import atomic_path

pytestmark = pytest.mark.e2e

RESULTS = "results/smoke"


def test_a_writer_removes_what_a_killed_writer_of_the_same_file_left(tmp_path):
    target = tmp_path / "shard-0.h5"
    leftover = tmp_path / ".shard-0.h5.k1ll3d.tmp"  # what atomic_path leaves when SIGKILLed
    leftover.write_bytes(b"half")
    other = tmp_path / ".shard-1.h5.k1ll3d.tmp"
    other.write_bytes(b"another file's")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete" and not leftover.exists() and other.exists()
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"complete" and sorted(p.name for p in tmp_path.iterdir()) == [
        other.name,
        target.name,
    ]


SMOKE_PEAK_MB = 1000  # README, Guarantees: the bound on the largest process of a smoke run


def test_no_process_of_the_smoke_run_exceeds_its_documented_peak_memory(smoke_run):
    """Measured over every process the session has waited for so far, the smoke run's jobs among
    them: a bound on each of them."""
    assert largest_child_rss_mb() < SMOKE_PEAK_MB


def test_another_seed_trains_different_models(tmp_path, smoke_run):
    """Seed 7 (not in the smoke preset's seeds) for each architecture on digits, in a copy of the
    finished run: every checkpoint and its metrics differ from those of seeds 0 and 1."""
    workdir = tmp_path / "run"
    subprocess.run(["cp", "-a", str(smoke_run.workdir), str(workdir)], check=True)
    models = workdir / RESULTS / "models/digits"
    targets = [f"{RESULTS}/models/digits/{arch}/seed-7.pt" for arch in ("gmn", "mlp", "cnn")]
    run(smoke_run.args("--cores", "2", *targets, directory=workdir), cwd=workdir)
    for arch in ("gmn", "mlp", "cnn"):
        seven = (models / arch / "seed-7.pt").read_bytes()
        assert seven != (models / arch / "seed-0.pt").read_bytes() != (models / arch / "seed-1.pt").read_bytes()
        metrics = (models / arch / "seed-7.metrics.json").read_text()
        assert '"seed": 7' in metrics and metrics != (models / arch / "seed-0.metrics.json").read_text()


def planned(smoke: SmokeRun, *config: str, configfile: Path | None = None) -> dict[str, int]:
    """Jobs per rule that a dry-run of the smoke run plans, with `config` entries (KEY=VALUE) added
    to its --config, and `configfile` layered over the preset."""
    args = smoke.args(*config)
    if configfile:
        args.insert(args.index("--config"), str(configfile))
    counts = planned_jobs(smoke.workdir, *args)
    counts.pop("total", None)
    return counts


# After the INR shards, everything of both datasets (2 datasets x 3 architectures x 2 seeds; 15 CKA
# pairs per dataset: 3 within, 3 x 4 across), the figures (fig2: digits; fig3, fig4: both), the
# tables, the claims and the manifest.
DOWNSTREAM_OF_SHARDS = {
    "summarize_inrs": 2,
    "train_model": 12,
    "dump_activations": 12,
    "prepare_cka": 12,
    "cka_pair": 30,
    "cka_figure": 2,
    "sample_figure": 1,
    "table1": 1,
    "table2": 1,
    "claims": 1,
    "audit_manifest": 1,
    "all": 1,
}


def test_a_finished_run_plans_nothing_more(smoke_run):
    assert planned(smoke_run) == {}


def test_a_changed_cka_setting_plans_only_cka_figure_and_table_jobs(smoke_run):
    counts = planned(smoke_run, "cka={'estimator': 'minibatch'}")
    assert counts == {
        "prepare_cka": 12,
        "cka_pair": 30,
        "cka_figure": 2,
        "table2": 1,
        "claims": 1,
        "audit_manifest": 1,
        "all": 1,
    }


def test_a_changed_inr_setting_plans_the_shards_and_everything_downstream_and_nothing_upstream(smoke_run, tmp_path):
    # one more config file after the preset: a nested key changed, its siblings kept
    fewer_steps = tmp_path / "fewer-steps.yaml"
    fewer_steps.write_text("inr:\n  recipes:\n    dwsnets: {max_steps: 100}\n")
    counts = planned(smoke_run, configfile=fewer_steps)
    assert counts == {"fit_inr_shard": 4, **DOWNSTREAM_OF_SHARDS}


def test_a_touched_raw_file_plans_everything_downstream_of_it(smoke_run):
    raw = smoke_run.workdir / "raw/fashion_mnist/train-images-idx3-ubyte.gz"
    before = raw.stat()
    os.utime(raw)
    try:
        counts = planned(smoke_run)
    finally:
        os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    # Fashion-MNIST's dataset file and 2 shards and all that follows them; digits' jobs only where
    # they meet Fashion-MNIST's (fig3, fig4 and the tables show both datasets)
    assert counts == {
        "prepare_data": 1,
        "fit_inr_shard": 2,
        "summarize_inrs": 1,
        "train_model": 6,
        "dump_activations": 6,
        "prepare_cka": 6,
        "cka_pair": 15,
        "cka_figure": 1,
        "sample_figure": 1,
        "table1": 1,
        "table2": 1,
        "claims": 1,
        "audit_manifest": 1,
        "all": 1,
    }
