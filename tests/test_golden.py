"""Golden hashes: the pipeline's computations at test sizes (tests/golden.py) give, with CPU numerics
pinned, the bytes recorded in tests/golden/cpu.json, on whatever x86-64 CPU with AVX2 the suite
runs; every numerical library a job loads runs the kernels its pin holds it to."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from gmnrep.core import numerics
from gmnrep.provenance import job_kernels
from gmnrep.provenance.records import cpu_model

MANIFEST = REPO / "tests/golden/cpu.json"


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_the_pinned_computations_give_the_golden_bytes_on_this_cpu():
    if "avx2" not in cpu_flags():
        pytest.skip(f"{cpu_model()} has no AVX2: the manifest is of the AVX2 code paths")
    expected = json.loads(MANIFEST.read_text())
    # a fresh process: the pins take effect only before torch loads; none of this session's settings
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests/golden.py")], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    made, here = expected["made_on"], got["made_on"]
    for name, sha in expected["hashes"].items():
        if name not in got["hashes"]:
            assert name == "inr_fashion_mnist", f"{name} was not computed"
            continue  # Debian's dataset-fashion-mnist is absent here (golden.py says so by leaving it out)
        assert got["hashes"][name] == sha, (
            f"{name} (the first computation of tests/golden.py that differs) gives other bytes on {here['cpu']} "
            f"(torch {here['torch']}, ATen capability {here['capability']}) than the manifest's, made on "
            f"{made['cpu']} (torch {made['torch']}, {made['capability']})"
        )


def test_a_jobs_numerical_libraries_run_their_pinned_kernels_on_this_cpu():
    if "avx2" not in cpu_flags():
        pytest.skip(f"{cpu_model()} has no AVX2: the pins hold libraries to AVX2 kernels")
    kernels = job_kernels.job_kernels(job_kernels.job_environment(pinned=True))
    loaded = {k.library.split()[0] for k in kernels}
    assert {"openblas", "numpy", "torch"} <= loaded, f"a job should load OpenBLAS, numpy and torch: {kernels}"
    escaped = [f"{k.library} runs {k.chosen} kernels, not the pinned {k.pinned}" for k in kernels if k.escaped]
    assert not escaped, f"on {cpu_model()}, with CPU numerics pinned: " + "; ".join(escaped)


def test_the_kernel_check_names_a_library_held_to_other_kernels():
    env = job_kernels.job_environment(pinned=True)
    env["OPENBLAS_CORETYPE"] = "Sandybridge"  # AVX kernels: every AVX2 CPU runs them, and they are not the pinned
    escaped = [k for k in job_kernels.job_kernels(env) if k.escaped]
    assert escaped and all(k.library.startswith("openblas") and k.chosen == "Sandybridge" for k in escaped), escaped


def test_pinning_sets_the_libraries_variables_and_refuses_once_torch_or_numpy_is_loaded(monkeypatch):
    environ = {"MKL_CBWR": "AUTO", "OTHER": "kept"}
    numerics.pin(environ)
    assert environ == {**numerics.PINNED, "OTHER": "kept"}
    assert numerics.settings(environ) == numerics.PINNED and numerics.settings({}) == dict.fromkeys(numerics.PINNED)
    import numpy  # noqa: F401 (loaded: too late to pin this process)
    import torch  # noqa: F401

    with pytest.raises(RuntimeError, match="after torch and numpy had been imported"):
        numerics.pin()
    for name in numerics.PINNED:  # restored after the test
        monkeypatch.delenv(name, raising=False)
    numerics.pin(jobs_only=True)  # the workflow's process: it computes nothing, its jobs start pinned
    assert numerics.settings() == numerics.PINNED
