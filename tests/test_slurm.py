"""The smoke DAG through `snakemake --profile slurm` on a real single-node SLURM cluster.

tests/slurm/start.sh installs and starts the cluster (munge, mariadb, slurmdbd, slurmctld, slurmd and
two fake GPUs); tests/slurm/stop.sh stops each daemon by its PID afterwards. Starting it needs root
on Debian: elsewhere these tests are skipped, with the reason.
"""

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import REPO, SLURM_ENV, sha256_tree, smoke_args, snakemake_cmd

pytestmark = pytest.mark.e2e

SLURM_SCRIPTS = REPO / "tests/slurm"
SLURMCTLD_PID = Path("/run/slurmctld.pid")
RUN_LIMIT_S = 1500  # a SLURM smoke run takes about 5 min on 2 cores


def why_slurm_cannot_start() -> str | None:
    if os.geteuid() != 0:
        return "starting SLURM needs root (it installs packages and runs daemons); CI runs as root"
    if not Path("/etc/debian_version").is_file() or shutil.which("apt-get") is None:
        return "tests/slurm/start.sh needs Debian (apt-get, Debian's SLURM packages)"
    return None


def slurmctld_running() -> bool:
    try:
        os.kill(int(SLURMCTLD_PID.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="module")
def cluster():
    """A running SLURM; yields the list where the tests note their run IDs (job names), so that
    nothing of theirs is left queued. Daemons this fixture started, it stops."""
    reason = why_slurm_cannot_start()
    if reason:
        pytest.skip(reason)
    started_here = not slurmctld_running()
    start = subprocess.run(
        ["timeout", "-k", "10", "600", "bash", str(SLURM_SCRIPTS / "start.sh")],
        env={**SLURM_ENV, "SLURM_FAKE_GPUS": "2"},
        capture_output=True,
        text=True,
    )
    assert start.returncode == 0, f"tests/slurm/start.sh failed:\n{start.stdout}\n{start.stderr[-4000:]}"
    run_ids: list[str] = []
    yield run_ids
    for run_id in run_ids:
        subprocess.run(["scancel", f"--name={run_id}"], capture_output=True, env=SLURM_ENV)
    if started_here:
        subprocess.run(["bash", str(SLURM_SCRIPTS / "stop.sh")], capture_output=True, env=SLURM_ENV)


def run_on_slurm(workdir: Path, run_ids: list[str], *extra: str) -> subprocess.CompletedProcess:
    """The smoke preset through the repository's profile. Only what a small test cluster needs is
    added: group jobs no wider than the node, a quick first status check, and the trainings asking
    for a (fake) GPU as they do at paper scale."""
    args = smoke_args(
        workdir,
        "--profile",
        str(REPO / "slurm"),
        "--cores",
        str(os.cpu_count()),
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--set-resources",
        "train_model:gpu=1",
        *extra,
    )
    proc = subprocess.run(
        ["timeout", "-k", "30", str(RUN_LIMIT_S), *snakemake_cmd(*args)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=SLURM_ENV,
    )
    found = re.search(r"SLURM run ID: (\S+)", proc.stdout + proc.stderr)
    assert found, f"no SLURM run ID in snakemake's output:\n{proc.stderr[-4000:]}"
    run_ids.append(found.group(1))
    return proc


def accounting(run_id: str) -> list[dict[str, str]]:
    """sacct's record of every SLURM job of one Snakemake run (the plugin names each job by the run ID)."""
    fields = ["JobID", "State", "Comment", "AllocTRES"]
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", f"--name={run_id}", f"--format={','.join(fields)}"],
        capture_output=True,
        text=True,
        check=True,
        env=SLURM_ENV,
    ).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]


def submitted_ids(output: str) -> set[str]:
    return set(re.findall(r"has been submitted with SLURM jobid (\d+)", output))


def job_kind(comment: str) -> str:
    """The plugin's job comment without its wildcards: rule_train_model_wildcards_... -> train_model;
    a group job: its group, then the rules it ran (representations_dump_activations_prepare_cka)."""
    return comment.removeprefix("rule_").split("_wildcards_")[0]


@pytest.fixture(scope="module")
def slurm_smoke(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm-smoke")
    start = time.monotonic()
    proc = run_on_slurm(workdir, cluster)
    assert proc.returncode == 0, f"SLURM smoke run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return workdir, proc, cluster[-1], time.monotonic() - start


def test_every_job_of_the_smoke_dag_goes_through_sbatch_and_completes(slurm_smoke):
    _, proc, run_id, _ = slurm_smoke
    jobs = accounting(run_id)
    assert {job["JobID"] for job in jobs} == submitted_ids(proc.stdout + proc.stderr)
    assert {job["State"] for job in jobs} == {"COMPLETED"}
    kinds = Counter(job_kind(job["Comment"]) for job in jobs)
    # big jobs one each; each model's dump + CKA operands one group job; 30 CKA pairs in groups of
    # at most 10; the 6 tables, figures and claims one job. Raw files are fetched on the submit host.
    assert kinds == {
        "prepare_data": 2,
        "fit_inr_shard": 4,
        "summarize_inrs": 2,
        "train_model": 12,
        "representations_dump_activations_prepare_cka": 12,
        "cka_pairs_cka_pair": 3,
        "summaries_cka_figure_claims_sample_figure_table1_table2": 1,
    }
    trainings = [job for job in jobs if job_kind(job["Comment"]) == "train_model"]
    assert all("gres/gpu=1" in job["AllocTRES"] for job in trainings)


def test_slurm_run_writes_the_same_bytes_as_a_local_run(slurm_smoke, smoke_run):
    workdir, *_ = slurm_smoke
    local = smoke_run.workdir
    on_slurm = sha256_tree(workdir / "results")
    assert on_slurm == sha256_tree(local / "results")
    assert len(on_slurm) > 80  # every artifact: data, shards, models, dumps, CKA, figures, tables


def test_a_failing_slurm_job_is_reported_and_a_rerun_completes_the_rest(cluster, slurm_smoke, smoke_run):
    """A hand-corrupted activation dump makes its CKA job fail on the cluster, attempt after attempt
    (the profile retries twice); an independent job in the same run still completes; a rerun that
    recomputes the corrupt file (--forcerun) completes the rest, and the results match the local run."""
    workdir, *_ = slurm_smoke
    local = smoke_run.workdir
    results = workdir / "results/smoke"
    dump = results / "activations/digits/mlp/seed-0.h5"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    # not a CKA pair: pairs travel in group jobs, and a group waits for all of its members' inputs
    independent = results / "inrs/fashion_mnist/summary.csv"
    independent.unlink()

    failed = run_on_slurm(workdir, cluster)
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "Error in rule prepare_cka" in out, out[-4000:]
    log = (workdir / "logs/smoke/cka/digits/operands/mlp-0.log").read_text()
    # the job's own log names the corrupt file, the job that made it, and the repair
    assert "results/smoke/activations/digits/mlp/seed-0.h5: its sha256 is" in log, log[-2000:]
    assert "dump_activations[arch=mlp,dataset=digits,seed=0] recorded" in log and "--forcerun" in log, log[-2000:]
    jobs = accounting(cluster[-1])
    failures = [job for job in jobs if job["State"] == "FAILED"]
    assert len(failures) == 3 and {job_kind(job["Comment"]) for job in failures} == {"representations_prepare_cka"}, (
        jobs
    )
    assert independent.is_file()  # keep-going: the independent job ran in the same run
    assert not (results / "cka/digits/operands/mlp-0.h5").exists()

    # A missing intermediate file alone does not make Snakemake rerun anything while its downstream
    # results exist, so the repair names the corrupt file: it and everything after it are redone.
    rerun = run_on_slurm(workdir, cluster, "--forcerun", str(dump.relative_to(workdir)))
    assert rerun.returncode == 0, rerun.stderr[-6000:]
    kinds = Counter(job_kind(job["Comment"]) for job in accounting(cluster[-1]))
    assert kinds["representations_dump_activations_prepare_cka"] == 1 and kinds["cka_pairs_cka_pair"] == 1, kinds
    assert not {"train_model", "fit_inr_shard", "prepare_data"} & set(kinds), kinds
    assert sha256_tree(workdir / "results") == sha256_tree(local / "results")
