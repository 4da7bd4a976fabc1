"""The smoke DAG through `snakemake --profile slurm` on a real single-node SLURM cluster.

tests/slurm/start.sh installs and starts the cluster (munge, mariadb, slurmdbd, slurmctld, slurmd and
two fake GPUs); tests/slurm/stop.sh stops each daemon by its PID afterwards. Starting it needs root
on Debian: elsewhere these tests are skipped, with the reason.

A SLURM run mostly waits (for sbatch, for the executor's status polls, for a Snakemake start in
every job), so the cluster and its runs go in background threads while the rest of the suite runs,
in the first pytest process to collect these tests (conftest.py): the cluster at once; as soon as
the session's local smoke run has finished, the smoke DAG of digits, and beside it the failing run
and its repair and the interrupted training, each in a copy of the local run. Then the process stops
the cluster and leaves what the runs left in the session's shared folder, where these tests, in
whichever worker, read it; they come last.
"""

import os
import pickle
import random
import re
import shutil
import subprocess
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from conftest import (
    FASHION_DIR,
    REPO,
    RESUMED_EPOCHS,
    RESUMED_LOG,
    RESUMED_MODEL,
    SHARED,
    SLURM_ENV,
    SharedSmokeRun,
    SmokeRun,
    claim,
    digits_part,
    in_background,
    longer_training,
    longer_training_config,
    resumed_outputs,
    sha256_tree,
    smoke_args,
    snakemake_cmd,
)
from gmnrep.core.atomic import atomic_path

pytestmark = pytest.mark.e2e

SLURM_SCRIPTS = REPO / "tests/slurm"
SLURMCTLD_PID = Path("/run/slurmctld.pid")
# Twice the machine's cores: the failing run's jobs start beside the smoke run's instead of queueing
# behind them, where each wait would cost a round of status polls (14-36 s).
NODE_CPUS = 2 * (os.cpu_count() or 1)
START_LIMIT_S = 600
RUN_LIMIT_S = 1500  # each SLURM run's limit: several times what the longest takes on 2 cores
CORRUPT_DUMP = "results/smoke/activations/digits/mlp/seed-0.h5"
CORRUPT_OPERANDS = "results/smoke/cka/digits/operands/mlp-0.h5"
# Deleted beside the corruption, made again in the same run: a job of its own, and a job of the
# summaries group (the failing run names its targets, so that no other member of that group waits on
# the failing job)
INDEPENDENT = ("results/smoke/inrs/digits/summary.csv", "results/smoke/figures/training_curves/digits.pdf")
# What the SLURM smoke run makes of the digits DAG, from scratch: every rule kind and the
# representations and CKA pair groups (the failing run has a summaries group job), up to one CKA
# pair, a GMN against a matched twin: the GMNs' trainings (the twin matches their accuracy), the
# twin's, both models' dumps and CKA operands, and the INR summary and figure. Each job on SLURM pays
# two Snakemake starts, so the other models and the other 44 pairs are left to the local run.
SMOKE_PAIR = ("gmn-0", "cnnmatch-0")
SMOKE_TARGETS = [
    "results/smoke/inrs/digits/summary.csv",
    "results/smoke/inrs/digits/reconstructions.pdf",
    "results/smoke/cka/digits/{}__{}.csv".format(*SMOKE_PAIR),
]


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


@dataclass
class SlurmRun:
    """One `snakemake --profile slurm` run and what it left, read as soon as it ended."""

    proc: subprocess.CompletedProcess
    run_id: str
    jobs: list[dict[str, str]]
    digits: dict[str, str]  # sha256 of the digits artifacts


@dataclass
class SlurmSession:
    """The cluster and three runs, in `folder`. In smoke/, the smoke DAG of digits. In failing/, a
    copy of the session's local smoke run (so that they need not wait for the first): the dump's
    CKA operands and two independent outputs, after the dump is corrupted by hand and the two
    deleted, then the repair. In resumed/, another copy, for the interrupted training. What the runs left is pickled
    to OUTCOME in `folder` (threads, events and the local run stay behind)."""

    folder: Path
    local: SharedSmokeRun | None  # None where the local run cannot be made (no Fashion-MNIST)
    started_here: bool = False
    runs: dict[str, SlurmRun] = field(default_factory=dict)
    failed_log: str = ""  # the failing CKA job's own log
    independent_remade: bool = False
    operands_written: bool = True
    errors: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # steps still running at the deadline
    resumed_reference: dict[str, bytes] = field(default_factory=dict)  # the uninterrupted local training's
    resumed: dict = field(default_factory=dict)  # the interrupted SLURM training's run, outputs, log, signalled epoch

    OUTCOME = "session.pickle"

    @property
    def workdir(self) -> Path:
        return self.folder / "smoke"

    @property
    def failing_workdir(self) -> Path:
        return self.folder / "failing"

    @property
    def resumed_workdir(self) -> Path:
        return self.folder / "resumed"

    def __getstate__(self) -> dict:
        return vars(self) | {"local": None}

    def run(self, name: str, workdir: Path, args: list[str]) -> SlurmRun:
        proc = run_on_slurm(workdir, args)
        found = re.search(r"SLURM run ID: (\S+)", proc.stdout + proc.stderr)
        if not found:
            raise AssertionError(f"no SLURM run ID in snakemake's output:\n{proc.stderr[-4000:]}")
        self.runs[name] = SlurmRun(
            proc, found.group(1), accounting(found.group(1)), digits_part(sha256_tree(workdir / "results"))
        )
        return self.runs[name]

    def start_cluster(self) -> None:
        self.started_here = not slurmctld_running()
        start = subprocess.run(
            ["timeout", "-k", "10", str(START_LIMIT_S), "bash", str(SLURM_SCRIPTS / "start.sh")],
            env={**SLURM_ENV, "SLURM_FAKE_GPUS": "2", "SLURM_CPUS": str(NODE_CPUS)},
            capture_output=True,
            text=True,
        )
        if start.returncode != 0:
            raise AssertionError(f"tests/slurm/start.sh failed:\n{start.stdout}\n{start.stderr[-4000:]}")

    def smoke_steps(self) -> None:
        self.workdir.mkdir()
        args = smoke_args(self.workdir, "datasets=[digits]", *SLURM_OPTIONS, "--", *SMOKE_TARGETS)
        smoke = self.run("smoke", self.workdir, args)
        if smoke.proc.returncode != 0:
            raise AssertionError(f"SLURM smoke run failed:\n{smoke.proc.stdout[-3000:]}\n{smoke.proc.stderr[-6000:]}")

    def failing_steps(self, local: SmokeRun) -> None:

        def args(*extra: str) -> list[str]:
            return local.args(*SLURM_OPTIONS, *extra, directory=self.failing_workdir)

        local.copy(self.failing_workdir)
        dump = self.failing_workdir / CORRUPT_DUMP
        dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
        for path in INDEPENDENT:
            (self.failing_workdir / path).unlink()
        # One retry, not the profile's two: after each failed attempt the executor's status polls
        # back off by 10 s more, so every retry costs the test 20-40 s of waiting.
        self.run("failing", self.failing_workdir, args("--retries", "1", "--", CORRUPT_OPERANDS, *INDEPENDENT))
        log = self.failing_workdir / "logs/smoke/cka/digits/operands/mlp-0.log"
        self.failed_log = log.read_text() if log.is_file() else ""
        self.independent_remade = all((self.failing_workdir / path).is_file() for path in INDEPENDENT)
        self.operands_written = (self.failing_workdir / CORRUPT_OPERANDS).exists()
        # A missing intermediate file alone does not make Snakemake rerun anything while its
        # downstream results exist, so the repair names the corrupt file: it and everything after
        # it are redone, here up to the CKA operands whose job failed (the pairs after them are
        # SLURM jobs of the smoke run's kind, each paying two Snakemake starts).
        self.run("repair", self.failing_workdir, args("--forcerun", CORRUPT_DUMP, "--until", "prepare_cka"))

    def resumed_steps(self, local: SmokeRun) -> None:
        """The longer GMN training (conftest.RESUMED_MODEL) on SLURM, its first attempt sent SIGTERM
        at a random epoch as SLURM does before a time limit (`scancel --signal=TERM`: a real
        TIMEOUT costs whole minutes); then the same training locally, uninterrupted."""
        workdir = local.copy(self.resumed_workdir)
        args = local.args(*SLURM_OPTIONS, directory=workdir, configfile=longer_training_config(workdir))
        output = workdir / "snakemake.out"
        signal_at = random.Random(27).randrange(5, RESUMED_EPOCHS - 20)
        with open(output, "w") as out:
            proc = subprocess.Popen(
                ["timeout", "-k", "30", str(RUN_LIMIT_S), *snakemake_cmd(*args, "--", RESUMED_MODEL)],
                cwd=workdir, stdout=out, stderr=subprocess.STDOUT, text=True, env=SLURM_ENV,
            )  # fmt: skip
        log = workdir / RESUMED_LOG
        deadline = time.monotonic() + RUN_LIMIT_S
        while proc.poll() is None and time.monotonic() < deadline:
            if log.is_file() and f"epoch {signal_at}/{RESUMED_EPOCHS}:" in log.read_text(errors="replace"):
                run_id = re.search(r"SLURM run ID: (\S+)", output.read_text()).group(1)
                subprocess.run(["scancel", "--signal=TERM", f"--name={run_id}"], check=True, env=SLURM_ENV)
                break
            time.sleep(0.02)
        proc.wait()
        found = re.search(r"SLURM run ID: (\S+)", output.read_text())
        jobs = accounting(found.group(1)) if found else []
        failed = {job["JobID"] for job in jobs if job["State"] == "FAILED"}
        self.resumed = {
            "returncode": proc.returncode,
            "output": output.read_text(),
            "jobs": jobs,
            "log": log.read_text(errors="replace") if log.is_file() else "",
            # SLURM's own log of each attempt, kept for failed ones (Snakemake starts a job's log afresh)
            "first_attempt_log": "".join(
                path.read_text(errors="replace")
                for path in (workdir / "logs/slurm/rule_train_model").rglob("*.log")
                if path.stem in failed
            ),
            "outputs": resumed_outputs(workdir) if (workdir / RESUMED_MODEL).is_file() else {},
            "signalled_at": signal_at,
            "states_left": [p.name for p in (workdir / RESUMED_MODEL).parent.glob(".*")],
        }
        self.resumed_reference = longer_training(local, self.folder.parent)

    def all_steps(self) -> None:
        """The cluster started; every run, once the local smoke run is made (each SLURM job is a
        session of its own, which Linux schedules beside the whole test session as a group of equal
        weight: started earlier, they would hold back the local run most tests wait for); then the
        cluster stopped, and the outcome left for the tests."""
        deadline = time.monotonic() + START_LIMIT_S + 3 * RUN_LIMIT_S
        threads = []
        try:
            self.start_cluster()
            steps = [(self.smoke_steps,)]
            if self.local is not None:
                local = self.local.wait()
                steps += [(self.failing_steps, local), (self.resumed_steps, local)]
            threads = [self.recorded_thread(*step) for step in steps]
        except BaseException:  # reported by the tests
            self.errors.append(traceback.format_exc())
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.unfinished = [thread.name for thread in threads if thread.is_alive()]
        for run in self.runs.values():
            subprocess.run(["scancel", f"--name={run.run_id}"], capture_output=True, env=SLURM_ENV)
        if self.started_here:
            subprocess.run(["bash", str(SLURM_SCRIPTS / "stop.sh")], capture_output=True, env=SLURM_ENV)
        with atomic_path(self.folder / self.OUTCOME) as written:
            written.write_bytes(pickle.dumps(self))

    def recorded_thread(self, steps, *args) -> threading.Thread:
        def recorded():
            try:
                steps(*args)
            except BaseException:  # reported by the tests
                self.errors.append(traceback.format_exc())

        thread = threading.Thread(target=recorded, name=steps.__name__, daemon=True)
        thread.start()
        return thread


# Only what a small test cluster needs is added to the repository's profile: group jobs no wider
# than the node, a quick first status check, and the trainings asking for a (fake) GPU as they do
# at paper scale.
SLURM_OPTIONS = (
    "--profile",
    str(REPO / "slurm"),
    "--cores",
    str(os.cpu_count()),
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--set-resources",
    "train_model:gpu=1",
    "train_matched:gpu=1",
)


def start_in_background(config) -> None:
    """Called once a process of the session has collected these tests (conftest.py): the first
    such process runs the session; nothing where SLURM cannot start."""
    folder = config.stash[SHARED] / "slurm"
    if why_slurm_cannot_start() is None and claim(folder):
        local = SharedSmokeRun(config) if FASHION_DIR.is_dir() else None
        in_background(SlurmSession(folder, local).all_steps, "slurm")


@pytest.fixture(scope="module")
def slurm(request) -> SlurmSession:
    """The finished session, from the shared folder (nothing of its runs is left queued, and the
    daemons it started are stopped)."""
    reason = why_slurm_cannot_start()
    if reason:
        pytest.skip(reason)
    start_in_background(request.config)  # a no-op once a process has started it
    outcome = request.config.stash[SHARED] / "slurm" / SlurmSession.OUTCOME
    deadline = time.monotonic() + START_LIMIT_S + 3 * RUN_LIMIT_S + 120
    while not outcome.is_file():
        if time.monotonic() > deadline:
            pytest.fail("the SLURM session left no outcome in time")
        time.sleep(1)
    return pickle.loads(outcome.read_bytes())


def finished(session: SlurmSession, *names: str) -> list[SlurmRun]:
    """The named runs, or the failures of the session, with their tracebacks."""
    if session.unfinished:
        pytest.fail(f"the SLURM session did not finish in time: {session.unfinished}")
    missing = [name for name in names if name not in session.runs]
    if missing:
        pytest.fail(f"the SLURM session stopped before its {', '.join(missing)} run:\n{''.join(session.errors)}")
    return [session.runs[name] for name in names]


def run_on_slurm(workdir: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-k", "30", str(RUN_LIMIT_S), *snakemake_cmd(*args)],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=SLURM_ENV,
    )


def accounting(run_id: str) -> list[dict[str, str]]:
    """sacct's record of every SLURM job of one Snakemake run (the plugin names each job by the run ID).
    sacct lists jobs since midnight unless told otherwise: a run that crosses midnight would lose the
    jobs it submitted before it, so the window starts a day back."""
    fields = ["JobID", "State", "Comment", "AllocTRES", "Timelimit", "ReqMem"]
    since = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", f"--starttime={since}", f"--name={run_id}", f"--format={','.join(fields)}"],
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


def test_every_kind_of_job_of_the_smoke_dag_goes_through_sbatch_and_completes(slurm):
    (smoke,) = finished(slurm, "smoke")
    jobs = smoke.jobs
    assert {job["JobID"] for job in jobs} == submitted_ids(smoke.proc.stdout + smoke.proc.stderr)
    assert {job["State"] for job in jobs} == {"COMPLETED"}
    kinds = Counter(job_kind(job["Comment"]) for job in jobs)
    # big jobs one each (the matched twin too); each model's dump + CKA operands one group job; the
    # CKA pair a group job of one. Raw files are fetched on the submit host.
    assert kinds == {
        "prepare_data": 1,
        "fit_inr_shard": 2,
        "summarize_inrs": 1,
        "inr_figure": 1,
        "train_model": 2,
        "train_matched": 1,
        "representations_dump_activations_prepare_cka": 2,
        "cka_pairs_cka_pair": 1,
    }
    trainings = [job for job in jobs if job_kind(job["Comment"]) in ("train_model", "train_matched")]
    assert all("gres/gpu=1" in job["AllocTRES"] for job in trainings)


def test_slurm_run_writes_the_same_bytes_as_a_local_run(slurm, smoke_run):
    """Every digits artifact the SLURM run made (SMOKE_TARGETS and all they need) is the local run's
    file; the local run's others are the other models and CKA pairs, and the training curves."""
    (smoke,) = finished(slurm, "smoke")
    local = digits_part(sha256_tree(smoke_run.workdir / "results"))
    assert smoke.digits == {path: local.get(path) for path in smoke.digits}
    # the dataset, 2 shards, the INR summary, weight statistics and figure, 3 models with their
    # metrics, 2 dumps with their CKA operands and chance tables, the pair's 2 tables
    assert len(smoke.digits) == 1 + 2 + 3 + 2 * 3 + 3 * 2 + 2
    trained = {"gmn-0", "gmn-1", "cnnmatch-0"}
    left = Counter()
    for path in set(local) - set(smoke.digits):
        pair = re.fullmatch(r"smoke/cka/digits/([^/]+)__([^/.]+)(?:\.blocks)?\.csv", path)
        per_model = re.fullmatch(
            r"smoke/(?:activations|models)/digits/(\w+)/seed-(\d)\.\w+(?:\.json)?"
            r"|smoke/cka/digits/(?:chance|operands)/(\w+-\d)\.\w+",
            path,
        )
        if pair:
            assert (pair.group(1), pair.group(2)) != SMOKE_PAIR, path
            left["pair tables"] += 1
        elif per_model:
            model = per_model.group(3) or f"{per_model.group(1)}-{per_model.group(2)}"
            kind = "models" if "/models/" in path else "dumps and operands"
            assert model not in (trained if kind == "models" else SMOKE_PAIR), path
            left[kind] += 1
        else:
            assert path.startswith("smoke/figures/training_curves/digits."), path
            left["training curves"] += 1
    assert left == {"pair tables": 2 * 44, "dumps and operands": 3 * 8, "models": 2 * 7, "training curves": 2}


def test_a_failing_slurm_job_is_reported_and_a_rerun_completes_the_rest(slurm, smoke_run):
    """In a copy of the local smoke run, a hand-corrupted activation dump makes its CKA job fail on
    the cluster, attempt after attempt (retried once here; the profile retries twice); two
    independent jobs in the same run (one of the summaries group) still complete; a rerun that
    recomputes the corrupt file (--forcerun) and what is made from it, up to the CKA operands that
    failed, leaves every digits artifact as in the local run."""
    failing, repair = finished(slurm, "failing", "repair")
    out = failing.proc.stdout + failing.proc.stderr
    assert failing.proc.returncode != 0
    assert "Error in rule prepare_cka" in out, out[-4000:]
    # the job's own log names the corrupt file, the job that made it, and the repair
    log = slurm.failed_log
    assert f"{CORRUPT_DUMP}: its sha256 is" in log, log[-2000:]
    assert "dump_activations[arch=mlp,dataset=digits,seed=0] recorded" in log and "--forcerun" in log, log[-2000:]
    failures = [job for job in failing.jobs if job["State"] == "FAILED"]
    assert len(failures) == 2, failing.jobs
    assert yaml.safe_load((REPO / "slurm/config.yaml").read_text())["retries"] == 2
    assert {job_kind(job["Comment"]) for job in failures} == {"representations_prepare_cka"}, failing.jobs
    assert slurm.independent_remade  # keep-going: the independent jobs ran in the same run
    completed = Counter(job_kind(job["Comment"]) for job in failing.jobs if job["State"] == "COMPLETED")
    assert completed == {"summarize_inrs": 1, "summaries_training_curves": 1}, failing.jobs
    assert not slurm.operands_written

    assert repair.proc.returncode == 0, repair.proc.stderr[-6000:]
    kinds = Counter(job_kind(job["Comment"]) for job in repair.jobs)
    assert kinds == {"representations_dump_activations_prepare_cka": 1}, kinds
    assert repair.digits == digits_part(sha256_tree(smoke_run.workdir / "results"))


def test_a_training_signalled_before_its_time_limit_is_resubmitted_with_more_and_resumes_to_the_local_bytes(slurm):
    """The longer GMN training of digits on SLURM: its first attempt gets SIGTERM (scancel
    --signal=TERM, what SLURM sends before a time limit) at a random epoch and fails; the profile's
    retry asks for twice the runtime and 1.5 times the memory (config retry_growth), goes on from
    the epoch the first attempt saved last, and writes the bytes of the same training run locally
    without interruption."""
    if slurm.unfinished:
        pytest.fail(f"the SLURM session did not finish in time: {slurm.unfinished}")
    resumed = slurm.resumed
    if not resumed:
        pytest.fail(f"the interrupted training's run did not happen:\n{''.join(slurm.errors)}")
    assert resumed["returncode"] == 0, resumed["output"][-4000:]
    attempts = [(job["State"], job["Timelimit"], job["ReqMem"]) for job in resumed["jobs"]]
    assert attempts == [("FAILED", "00:10:00", "1000M"), ("COMPLETED", "00:20:00", "1500M")], resumed["jobs"]
    # SLURM's log of the first attempt (kept: it failed) says where the job was stopped, and why
    # (through the Terminated exception, or killed outright when a second SIGTERM followed at once)
    stopped = ("Terminated: SIGTERM received", "died with <Signals.SIGTERM")
    assert any(why in resumed["first_attempt_log"] for why in stopped), resumed["first_attempt_log"][-3000:]
    epoch = int(re.search(r"resumed from epoch (\d+) of", resumed["log"]).group(1))
    assert resumed["signalled_at"] <= epoch < RESUMED_EPOCHS
    assert resumed["outputs"] == slurm.resumed_reference and resumed["outputs"]
    assert resumed["states_left"] == []
