import hashlib
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def digits():
    from gmnrep import formats

    return formats.read_digits(formats.digits_source_file())


@pytest.fixture
def dwsnets_recipe():
    from gmnrep.siren import SirenRecipe

    return SirenRecipe(
        hidden=(32, 32), w0=30.0, init="dwsnets", output_offset=0.5, target_range=(0.0, 1.0),
        lr=5e-4, max_steps=1000, target_psnr=40.0,
    )


@pytest.fixture
def one_thread():
    """Tiny tensors: more threads only add synchronisation, and on a busy machine OpenMP's waiting
    threads made such tests up to 100x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]


def random_images(n: int, shape=(8, 8), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def run(args, cwd, check=True, timeout=900):
    """Snakemake on this repository's workflow; on failure the assertion shows the end of its output."""
    proc = subprocess.run(snakemake_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def smoke_args(workdir, *extra):
    """The smoke preset in `workdir`, with its own raw folder (digits and Debian's Fashion-MNIST need no download)."""
    return [
        "--directory", str(workdir), "--configfile", str(REPO / "config.yaml"),
        "--config", "preset=smoke", f"raw_dir={workdir}/raw", *extra,
    ]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One local run of the smoke DAG, shared by the tests that read it (none may change it)."""
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist (CI does)")
    workdir = tmp_path_factory.mktemp("smoke")
    proc = run(smoke_args(workdir, "--cores", "2"), cwd=workdir)
    return workdir, proc


def largest_child_rss_mb() -> float:
    """Peak resident memory of the largest process this test session has waited for, Snakemake's
    jobs included (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def artifact_files(root: Path) -> list[Path]:
    """Every artifact under `root` under its final name. Left out: a writer's hidden temporary, and
    provenance records (audit/), which hold each run's own times and host, so no two runs share them."""
    if not root.exists():
        return []
    return [
        path for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".") and "audit" not in path.relative_to(root).parts
    ]


def sha256_tree(root: Path) -> dict[str, str]:
    """sha256 of every artifact under `root` (see `artifact_files`), by path relative to it."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in artifact_files(root)}


def copy_run_args(repo: Path, workdir: Path, *extra: str) -> list[str]:
    """The smoke preset with the workflow copy at `repo` (see `workflow_copy_run`)."""
    return [
        "-s", str(repo / "Snakefile"), "--directory", str(workdir), "--configfile", str(repo / "config.yaml"),
        "--config", "preset=smoke", f"raw_dir={workdir}/raw", *extra,
    ]


@pytest.fixture(scope="session")
def workflow_copy_run(tmp_path_factory):
    """A second clean smoke run, made with a copy of the workflow (Snakefile, config, rules, scripts,
    library) so that tests may change a rule script. Tests that tamper with it restore it."""
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist (CI does)")
    root = tmp_path_factory.mktemp("copy")
    repo = root / "repo"
    for name in ("workflow", "src", "envs"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(REPO / name, repo / name)
    workdir = root / "run"
    workdir.mkdir()
    run(copy_run_args(repo, workdir, "--cores", "2"), cwd=workdir)
    return repo, workdir
