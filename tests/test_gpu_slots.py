"""One GPU per job on one machine (gmnrep.core.gpu_slots): how many GPUs a local run may use at once,
and which one each job takes. No GPU is needed: devices are named by their identities only."""

import os
import subprocess
import sys

import pytest

from conftest import REPO, run
from gmnrep.core import gpu_slots


@pytest.mark.parametrize(
    ("visible", "count"),
    [("0,1", 2), ("GPU-3f2a,GPU-77c1,GPU-0000", 3), ("", 0), ("-1", 0), ("0,-1,1", 1), ("1", 1)],
)
def test_the_gpus_a_job_may_use_are_those_cuda_visible_devices_lists(visible, count, tmp_path):
    driver = tmp_path / "gpus"
    for index in range(4):
        (driver / f"0000:0{index}:00.0").mkdir(parents=True)
    assert gpu_slots.gpu_count({"CUDA_VISIBLE_DEVICES": visible}, driver) == count
    assert gpu_slots.gpu_count({}, driver) == 4, "without the variable: every GPU the driver shows"
    assert gpu_slots.gpu_count({}, tmp_path / "no-driver") == 0


HOLD = """
import sys, time
from pathlib import Path
from gmnrep.core import gpu_slots
print(gpu_slots.claim(sys.argv[2].split(","), Path(sys.argv[1]), poll_seconds=0.05), flush=True)
time.sleep(float(sys.argv[3]))
"""


def holder(lock_dir, identities, seconds):
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_dir), ",".join(identities), str(seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip


def test_each_job_takes_a_gpu_no_other_job_holds_and_a_job_waits_while_all_are_held(tmp_path):
    identities = ["GPU-aaaa", "GPU-bbbb"]
    first = holder(tmp_path, identities, 3)
    assert first.stdout.readline().strip() == "0"
    second = holder(tmp_path, identities, 0)
    assert second.stdout.readline().strip() == "1"
    second.wait(timeout=30)
    # both held by `first` and a third job: the next waits, says so, and gets the one given back
    third = holder(tmp_path, identities, 1)
    assert third.stdout.readline().strip() == "1"
    waiting = holder(tmp_path, identities, 0)
    out, err = waiting.communicate(timeout=30)
    assert out.strip() == "1" and "all 2 GPUs are held by other jobs of this machine" in err
    for process in (first, third):
        process.kill()  # the kernel releases a killed job's lock: its GPU is free at once
        process.wait()
    assert gpu_slots.claim(identities, tmp_path) == 0
    assert gpu_slots.claim(identities, tmp_path) == 0, "a job asking again keeps the GPU it holds"
    gpu_slots.release_all()


def _job_interval(log) -> tuple[str, str]:
    lines = log.read_text().splitlines()
    start = next(line for line in lines if "start:" in line)[1:20]
    end = next(line for line in lines if "done in" in line)[1:20]
    return start, end


@pytest.mark.parametrize(("visible", "at_once"), [("0", False), ("", True)], ids=["one GPU", "no GPU"])
def test_a_local_run_puts_no_two_gpu_jobs_on_one_gpu(tmp_path, smoke_run, visible, at_once):
    """Two trainings asking for a GPU each, on 2 cores, in a copy of the smoke run: on a machine
    showing one GPU (CUDA_VISIBLE_DEVICES=0; the trainings themselves run on the CPU here) the
    second starts after the first has ended; with no GPU there is nothing to share, and they run
    side by side. The command line sets no GPU limit either way."""
    workdir = smoke_run.copy(tmp_path / "run")
    models = [f"results/smoke/models/digits/mlp/seed-{seed}.pt" for seed in (0, 1)]
    args = smoke_run.args(
        "--set-resources", "train_model:gpu=1", "--forcerun", *models, "--cores", "2", *models, directory=workdir
    )
    proc = run(args, workdir, env={**os.environ, "CUDA_VISIBLE_DEVICES": visible})
    assert ('Provided resources: gpu=Resource("gpu", 1)' in proc.stderr) is not at_once
    (start_a, end_a), (start_b, end_b) = sorted(
        _job_interval(workdir / f"logs/smoke/models/digits/mlp/seed-{seed}.log") for seed in (0, 1)
    )
    assert (start_b < end_a) is at_once, f"seed logs: {start_a}..{end_a}, {start_b}..{end_b}"
