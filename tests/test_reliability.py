"""Reliability of whole runs: interrupted runs resume to the same bytes, clean runs reproduce each
other, and Snakemake plans exactly the jobs a change makes out of date.

Compared artifacts: every file under results/ (data, INR shards and their summaries, checkpoints
and metrics, activation dumps, CKA operands and pair tables, figures, tables), except the
provenance records under results/*/audit/, which hold each run's own times and host.
"""

import base64
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    RESUMED_EPOCHS,
    RESUMED_LOG,
    RESUMED_MODEL,
    SHARED,
    SmokeRun,
    artifact_files,
    digits_part,
    job_processes,
    largest_child_rss_mb,
    longer_training,
    longer_training_config,
    planned_jobs,
    resumed_outputs,
    run,
    sha256_tree,
    snakemake_cmd,
)
from gmnrep.core.atomic import atomic_path

pytestmark = pytest.mark.e2e

RESULTS = "results/smoke"


# The jobs the kill test interrupts, each kind in its own copy of the smoke run, where some of its
# digits jobs are redone (forced, and nothing after them): globs of the files they write, under the
# run's results, and of the logs of its running jobs. Both INR shards; two trainings, the GMN
# (through DGL) and an image network; the CKA pairs of one GMN with the nine other models.
INTERRUPTED = {
    "INR shard": (("inrs/digits/shard-*.h5",), "inrs/digits/shard-*.log"),
    "training": (("models/digits/gmn/seed-0.pt", "models/digits/mlp/seed-1.pt"), "models/digits/*/seed-*.log"),
    "CKA job": (("cka/digits/gmn-0__*.csv",), "cka/digits/*__*.log"),
}


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


def test_an_artifact_gets_the_permissions_of_an_ordinary_file(tmp_path):
    """Written through a private temporary, but readable by whom the umask allows (shared clusters)."""
    plain = tmp_path / "plain.csv"
    plain.write_text("a\n")
    with atomic_path(tmp_path / "artifact.csv") as tmp:
        tmp.write_text("a\n")
    assert (tmp_path / "artifact.csv").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 != 0o600


def _running_job_log(workdir: Path, pattern: str) -> Path | None:
    """A job log matching `pattern` whose job has started and not finished."""
    for log in (workdir / "logs/smoke").glob(pattern):
        try:
            text = log.read_text(errors="replace")
        except FileNotFoundError:  # Snakemake removes a forced job's old log as the job starts
            continue
        if "start:" in text and "done in" not in text and "FAILED" not in text:
            return log
    return None


def _interrupt(command: list[str], workdir: Path, pattern: str, timeout: float = 600) -> Path:
    """Start `command`, SIGKILL Snakemake and its jobs (one process group) while a job whose log
    matches `pattern` is running, and return that log."""
    with open(workdir / "interrupted.out", "a") as out:
        proc = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            caught = _running_job_log(workdir, pattern)
            if caught:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return caught
            if proc.poll() is not None:
                pytest.fail(f"the run ended (rc {proc.returncode}) before a job matching {pattern} was caught running")
            time.sleep(0.02)
        pytest.fail(f"no job matching {pattern} started within {timeout} s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _marked_incomplete(workdir: Path) -> set[str]:
    """Outputs of jobs Snakemake started and did not see finish (its own markers)."""
    markers = (workdir / ".snakemake/incomplete").glob("*")
    return {base64.urlsafe_b64decode(m.name + "=" * (-len(m.name) % 4)).decode() for m in markers}


def _dates(results: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(results)): (p.stat().st_mtime_ns, p.stat().st_size) for p in artifact_files(results)}


@pytest.mark.parametrize("kind", INTERRUPTED)
def test_a_run_killed_mid_job_resumes_to_the_same_bytes(kind, tmp_path, smoke_run):
    """kill -9 of Snakemake and its running job, in a copy of the smoke run where digits jobs of one
    kind (INTERRUPTED: INR shards, trainings, CKA pairs) are being redone: every file under its final name is
    then complete (it equals the session's run's file), the same command refuses to start while the
    killed run's lock remains and `--unlock` clears it, and the resumed run redoes the job Snakemake
    did not see finish, keeps every file it did, and ends with every digits artifact of the
    session's run, byte for byte."""
    reference = digits_part(sha256_tree(smoke_run.workdir / "results"))
    workdir = smoke_run.copy(tmp_path / "run")
    results = workdir / "results"
    outputs, pattern = INTERRUPTED[kind]
    targets = sorted(str(path.relative_to(workdir)) for glob in outputs for path in (results / "smoke").glob(glob))
    assert len(targets) >= 2, targets
    redone = smoke_run.args(
        "datasets=[digits]", "--cores", "2", "--until", *targets, "--forcerun", *targets, directory=workdir
    )
    caught = _interrupt(snakemake_cmd(*redone), workdir, pattern)
    assert caught.is_file()
    final = digits_part(sha256_tree(results))
    assert final == {path: reference.get(path) for path in final}, "a file under its final name is not complete"
    # the killed Snakemake could not release its lock: the same command refuses, safely
    assert list((workdir / ".snakemake/locks").glob("*.lock"))
    locked = run(redone, cwd=workdir, check=False)
    assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
    run(smoke_run.args("datasets=[digits]", "--unlock", directory=workdir), cwd=workdir)
    # Files present now were written completely (atomic writes); those whose job Snakemake did not
    # see finish are marked incomplete and redone, all others must be kept as they are.
    incomplete = _marked_incomplete(workdir)
    assert f"results/{caught.relative_to(workdir / 'logs').with_suffix('')}" in {
        str(Path(path).with_suffix("")) for path in incomplete
    }, incomplete
    finished = {p: d for p, d in _dates(results).items() if f"results/{p}" not in incomplete}
    resumed = run(
        smoke_run.args("datasets=[digits]", "--cores", "2", "--until", *targets, directory=workdir), cwd=workdir
    )
    assert digits_part(sha256_tree(results)) == reference
    after = _dates(results)
    assert {path: after[path] for path in finished} == finished, "finished artifacts were recomputed"
    assert not [p for p in results.rglob(".*.tmp")], "temporaries of killed writers were left behind"
    assert "Nothing to be done" not in resumed.stdout + resumed.stderr


def _wait_for_line(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 300) -> re.Match:
    """The first match of `pattern` in `log` (read again and again), while `proc` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace")) if log.is_file() else None
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before {log} showed {pattern!r}")
        time.sleep(0.02)
    pytest.fail(f"{log} did not show {pattern!r} within {timeout} s")


def test_a_training_killed_then_terminated_through_snakemake_resumes_to_the_uninterrupted_bytes(
    request, tmp_path, smoke_run
):
    """The smoke run's GMN of digits trained for 60 epochs (conftest.RESUMED_MODEL), in a copy of
    the run: first Snakemake and its job are SIGKILLed (a node dying) at a random epoch, then the
    job alone gets SIGTERM (what SLURM sends before a time limit) at a later one; each time the same
    command goes on from the last saved epoch, and the checkpoint and metrics it ends with are
    byte-identical to those of an uninterrupted training. No resume state is left."""
    reference = longer_training(smoke_run, request.config.stash[SHARED])
    workdir = smoke_run.copy(tmp_path / "interrupted")
    args = smoke_run.args(
        "--cores", "2", RESUMED_MODEL, directory=workdir, configfile=longer_training_config(workdir)
    )  # fmt: skip
    rng = np.random.default_rng(27)
    kill_at = int(rng.integers(5, 20))
    term_at = int(rng.integers(kill_at + 10, 45))
    log = workdir / RESUMED_LOG

    def start():
        return subprocess.Popen(snakemake_cmd(*args), cwd=workdir, stdout=subprocess.DEVNULL, start_new_session=True)

    proc = start()
    _wait_for_line(log, rf"epoch {kill_at}/{RESUMED_EPOCHS}:", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run([*args, "--unlock"], cwd=workdir)
    proc = start()
    resumed = int(_wait_for_line(log, r"resumed from epoch (\d+) of", proc).group(1))
    assert kill_at <= resumed < RESUMED_EPOCHS
    _wait_for_line(log, rf"epoch {term_at}/{RESUMED_EPOCHS}:", proc)
    (job,) = job_processes(workdir, "train_model.py")
    os.kill(job, signal.SIGTERM)
    assert proc.wait(timeout=120) != 0
    text = log.read_text()
    assert "Terminated: SIGTERM received" in text and "FAILED" in text
    states = list((workdir / RESUMED_MODEL).parent.glob(".seed-0*.resume.pt"))
    assert len(states) == 1 and not (workdir / RESUMED_MODEL).exists()
    run(args, cwd=workdir)
    again = int(re.search(r"resumed from epoch (\d+) of", log.read_text()).group(1))
    assert term_at <= again < RESUMED_EPOCHS
    assert resumed_outputs(workdir) == reference
    assert not list((workdir / RESUMED_MODEL).parent.glob(".*")), "a resume state or temporary was left"


SMOKE_PEAK_MB = 1000  # README, Guarantees: the bound on the largest process of a smoke run


def test_no_process_of_the_smoke_run_exceeds_its_documented_peak_memory(smoke_run):
    """Measured over every process of the session's smoke run, its jobs among them, and over every
    process this test worker has waited for so far: a bound on each of them."""
    assert max(smoke_run.peak_rss_mb, largest_child_rss_mb()) < SMOKE_PEAK_MB
    assert smoke_run.peak_rss_mb > 100  # the jobs were counted (each imports torch)


def test_another_seed_trains_different_models(tmp_path, smoke_run):
    """Seed 7 (not in the smoke preset's seeds) for an MLP on digits, in a copy of the finished run:
    the seed in the target's path reaches the training, whose checkpoint and metrics differ from
    those of seeds 0 and 1 (that every architecture's seed changes its model, and the same seed
    does not: tests/test_training.py)."""
    workdir = smoke_run.copy(tmp_path / "run")
    models = workdir / RESULTS / "models/digits/mlp"
    run(smoke_run.args("--cores", "2", f"{RESULTS}/models/digits/mlp/seed-7.pt", directory=workdir), cwd=workdir)
    seven = (models / "seed-7.pt").read_bytes()
    assert seven != (models / "seed-0.pt").read_bytes() != (models / "seed-1.pt").read_bytes()
    metrics = (models / "seed-7.metrics.json").read_text()
    assert '"seed": 7' in metrics and metrics != (models / "seed-0.metrics.json").read_text()


def planned(smoke: SmokeRun, *config: str, configfile: Path | None = None) -> dict[str, int]:
    """Jobs per rule that a dry-run of the smoke run plans, with `config` entries (KEY=VALUE) added
    to its --config, and `configfile` layered over the preset."""
    counts = planned_jobs(smoke.workdir, *smoke.args(*config, configfile=configfile))
    counts.pop("total", None)
    return counts


# After the INR shards, everything of both datasets (2 datasets x 4 trained architectures and 1
# matched twin x 2 seeds; 45 CKA pairs per dataset: 5 within, 10 x 4 across), the figures (fig2:
# digits; fig3, fig4: both; the INRs' and the training curves of each), the tables, the claims,
# the families' comparison (GMN and ScaleGMN), the report's first page and the manifest.
DOWNSTREAM_OF_SHARDS = {
    "summarize_inrs": 2,
    "inr_figure": 2,
    "training_curves": 2,
    "overview": 1,
    "train_model": 16,
    "train_matched": 4,
    "dump_activations": 20,
    "prepare_cka": 20,
    "cka_pair": 90,
    "cka_figure": 2,
    "sample_figure": 1,
    "table1": 1,
    "table2": 1,
    "claims": 1,
    "family_comparison": 1,
    "audit_manifest": 1,
    "all": 1,
}


def test_a_finished_run_plans_nothing_more(smoke_run):
    assert planned(smoke_run) == {}


def test_a_changed_cka_setting_plans_only_cka_figure_and_table_jobs(smoke_run):
    counts = planned(smoke_run, "cka={'estimator': 'minibatch'}")
    assert counts == {
        "prepare_cka": 20,
        "cka_pair": 90,
        "cka_figure": 2,
        "table2": 1,
        "claims": 1,
        "family_comparison": 1,
        "overview": 1,
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
        "inr_figure": 1,
        "training_curves": 1,
        "overview": 1,
        "train_model": 8,
        "train_matched": 2,
        "dump_activations": 10,
        "prepare_cka": 10,
        "cka_pair": 45,
        "cka_figure": 1,
        "sample_figure": 1,
        "table1": 1,
        "table2": 1,
        "claims": 1,
        "family_comparison": 1,
        "audit_manifest": 1,
        "all": 1,
    }
