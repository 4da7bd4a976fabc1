"""Runs killed with SIGKILL mid-shard, mid-training and mid-CKA resume to the same bytes.

The interrupted runs and their resumption are a whole second run of the smoke DAG, with nothing
shared with the session's run but the raw data, so they go in a background thread, at a lower CPU
priority, from the moment the session has collected this test (conftest.py), while the rest of the
suite runs; the test comes near the end and checks what they left against the session's run.

Compared artifacts: every file under results/ except the provenance records under
results/*/audit/, which hold each run's own times and host.
"""

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import FASHION_DIR, BackgroundWork, artifact_files, run, sha256_tree, smoke_args, snakemake_cmd

pytestmark = pytest.mark.e2e

PATTERNS = ("inrs/*/shard-*.log", "models/*/*/seed-*.log", "cka/**/*.log")  # the jobs to kill, in order


def _running_job_log(workdir: Path, pattern: str) -> Path | None:
    """A job log matching `pattern` whose job has started and not finished."""
    for log in (workdir / "logs/smoke").glob(pattern):
        text = log.read_text(errors="replace")
        if "start:" in text and "done in" not in text and "FAILED" not in text:
            return log
    return None


def _interrupt(workdir: Path, pattern: str, timeout: float = 900) -> Path:
    """Start the smoke run, SIGKILL Snakemake and its jobs (one process group) while a job whose log
    matches `pattern` is running, and return that log."""
    command = snakemake_cmd(*smoke_args(workdir, "--cores", "2"))
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
                raise AssertionError(f"the run ended (rc {proc.returncode}) before a job matching {pattern} ran")
            time.sleep(0.02)
        raise AssertionError(f"no job matching {pattern} started within {timeout} s")
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


@dataclass
class Interruption:
    """What one kill left: the job caught running, the results tree, the lock and the refusal."""

    caught: Path
    tree: dict[str, str]
    lock_left: bool
    locked: subprocess.CompletedProcess


@dataclass
class InterruptedRuns(BackgroundWork):
    workdir: Path
    interruptions: list[Interruption] = field(default_factory=list)
    finished: dict[str, tuple[int, int]] = field(default_factory=dict)  # (mtime, size) of files kept
    final_tree: dict[str, str] = field(default_factory=dict)
    final_dates: dict[str, tuple[int, int]] = field(default_factory=dict)
    leftovers: list[Path] = field(default_factory=list)
    # Below the suite's priority: these runs soak up the cores the suite leaves idle instead of
    # slowing the session's smoke run, which most tests wait for.
    niceness = 10

    def steps(self) -> None:
        results = self.workdir / "results"
        for pattern in PATTERNS:
            caught = _interrupt(self.workdir, pattern)
            tree = sha256_tree(results)
            lock_left = bool(list((self.workdir / ".snakemake/locks").glob("*.lock")))
            locked = run(smoke_args(self.workdir, "--cores", "2"), cwd=self.workdir, check=False)
            self.interruptions.append(Interruption(caught, tree, lock_left, locked))
            run(smoke_args(self.workdir, "--unlock"), cwd=self.workdir)
            # Files present now were written completely (atomic writes); those whose job Snakemake
            # did not see finish are marked incomplete and redone, all others must be kept as they are.
            incomplete = _marked_incomplete(self.workdir)
            self.finished.update({p: d for p, d in _dates(results).items() if f"results/{p}" not in incomplete})
        run(smoke_args(self.workdir, "--cores", "2"), cwd=self.workdir)
        self.final_tree, self.final_dates = sha256_tree(results), _dates(results)
        self.leftovers = list(results.rglob(".*.tmp"))


_session: InterruptedRuns | None = None


def start_in_background() -> None:
    """Called once the session has collected this test (conftest.py); nothing without the data."""
    global _session
    if FASHION_DIR.is_dir() and _session is None:
        _session = InterruptedRuns(Path(tempfile.mkdtemp(prefix="gmnrep-interrupted-")))
        _session.start("interrupted-runs")


@pytest.fixture(scope="module")
def interrupted_runs():
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist (CI does)")
    start_in_background()  # a no-op once the collection hook has started it
    _session.thread.join(timeout=3600)
    if _session.thread.is_alive():
        pytest.fail("the interrupted runs did not finish in time")
    if _session.error:
        pytest.fail(f"the interrupted runs stopped:\n{_session.error}")
    yield _session
    shutil.rmtree(_session.workdir, ignore_errors=True)


def test_runs_killed_mid_shard_mid_training_and_mid_cka_resume_to_the_same_bytes(interrupted_runs, smoke_run):
    """kill -9 of Snakemake and its running job, three times; after each, whatever carries a final
    name is complete (it equals the uninterrupted run's file), the killed Snakemake's lock makes the
    same command refuse until `--unlock`, and the same command resumes without redoing what was
    finished. The resumed run is also a second run of the whole DAG, in another directory and with
    another copy of the workflow (the repository's) than the session's run: its artifacts are
    byte-identical to it."""
    reference = sha256_tree(smoke_run.workdir / "results")
    logs = interrupted_runs.workdir / "logs/smoke"
    assert [i.caught.relative_to(logs).parts[0] for i in interrupted_runs.interruptions] == ["inrs", "models", "cka"]
    for interruption in interrupted_runs.interruptions:
        assert interruption.tree == {p: reference.get(p) for p in interruption.tree}, (
            f"after the kill during {interruption.caught}, a file under its final name is not complete"
        )
        assert interruption.lock_left
        locked = interruption.locked
        assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
    assert interrupted_runs.final_tree == reference
    after = interrupted_runs.final_dates
    finished = interrupted_runs.finished
    assert {path: after[path] for path in finished} == finished, "finished artifacts were recomputed"
    assert not interrupted_runs.leftovers, "temporaries of killed writers were left behind"
