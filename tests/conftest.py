import hashlib
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# The DGL reference GMN (bench/gmn_dgl.py) is not shipped with the library; tests compare against it.
sys.path.insert(0, str(REPO / "bench"))
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Every Snakemake start imports the SLURM executor plugin, which asks `scontrol show config` for a
# value in its help text. Where SLURM's client is installed but no controller answers (after the
# SLURM tests have stopped theirs, or on a workstation) that question waits 9 s, in every dry run
# and job of a local test run. Local runs need no controller: pointed at an empty configuration,
# `scontrol` fails at once. The SLURM tests run their commands with SLURM_ENV, the environment as it was.
SLURM_ENV = dict(os.environ)
os.environ["SLURM_CONF"] = os.devnull


@pytest.fixture(scope="session")
def digits():
    from gmnrep.data import formats

    return formats.read_digits(formats.digits_source_file())


# The DWSNets recipe of config.yaml (inr.recipes), at test sizes: 1000 steps at most (tests override
# max_steps where they need fewer).
DWSNETS_RECIPE = {**yaml.safe_load((REPO / "config.yaml").read_text())["inr"]["recipes"]["dwsnets"], "max_steps": 1000}


@pytest.fixture
def dwsnets_recipe():
    from gmnrep.inr.siren import SirenRecipe

    return SirenRecipe.from_config(DWSNETS_RECIPE)


@pytest.fixture
def one_thread():
    """Tiny tensors: more threads only add synchronisation, and on a busy machine OpenMP's waiting
    threads made such tests up to 100x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


PRESETS = ("paper", "demo", "smoke", "fmnist", "fmnist_scalegmn")


# A preset layered over another one as well as over config.yaml (its file's header says so).
LAYERED_OVER = {"fmnist_scalegmn": "fmnist"}


def preset_files(name: str, root: Path = REPO) -> list[Path]:
    """The config files of a preset, in layering order: config.yaml, the preset it is layered over
    if any, then presets/NAME.yaml."""
    if name == "paper":
        return [root / "config.yaml"]
    below = preset_files(LAYERED_OVER[name], root) if name in LAYERED_OVER else [root / "config.yaml"]
    return [*below, root / "presets" / f"{name}.yaml"]


def preset_config(name: str) -> dict:
    """A preset's configuration as Snakemake layers it (not yet validated)."""
    from gmnrep import config

    return config.layered(preset_files(name))


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


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Jobs per rule (and "total") that a dry-run with `args` plans in `workdir`."""
    proc = run([*args, "--directory", str(workdir), "--dry-run", "--quiet", "rules"], cwd=workdir)
    counts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def smoke_args(workdir: Path, *extra: str, repo: Path = REPO, raw_dir: Path | None = None) -> list[str]:
    """The smoke preset of the workflow at `repo`, in `workdir`, with the raw folder `raw_dir` (default:
    its own; digits and Debian's Fashion-MNIST need no download). `extra` may start with more
    KEY=VALUE entries for --config."""
    return [
        "-s",
        str(repo / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, preset_files("smoke", repo)),
        "--config",
        f"raw_dir={raw_dir or Path(workdir) / 'raw'}",
        *extra,
    ]


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
        path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith(".") and "audit" not in path.relative_to(root).parts
    ]


def sha256_tree(root: Path) -> dict[str, str]:
    """sha256 of every artifact under `root` (see `artifact_files`), by path relative to it."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in artifact_files(root)}


def digits_part(tree: dict[str, str]) -> dict[str, str]:
    """The digits artifacts of a sha256 tree (a run's tables and figures also show which datasets it ran)."""
    return {path: sha for path, sha in tree.items() if "digits" in Path(path).with_suffix("").parts}


@dataclass(frozen=True)
class SmokeRun:
    """The session's one local run of the smoke DAG, in `workdir`, made with a copy of the workflow
    at `repo` (Snakefile, config, presets, rules, scripts, library), so that a test may change a rule
    script without touching the repository. Tests read it; a test that tampers with it restores it."""

    workdir: Path
    repo: Path

    def args(self, *extra: str, directory: Path | None = None, configfile: Path | None = None) -> list[str]:
        """Snakemake arguments for this run's workflow and settings (with `configfile` layered over
        the preset), in `directory` (default: the run's own); the raw files are always the run's,
        so that nothing upstream counts as changed."""
        args = smoke_args(directory or self.workdir, *extra, repo=self.repo, raw_dir=self.workdir / "raw")
        if configfile:
            args.insert(args.index("--config"), str(configfile))
        return args

    def copy(self, directory: Path) -> Path:
        """The run's directory copied to `directory`, times kept (Snakemake plans by them); run it
        there with `args(..., directory=directory)`."""
        subprocess.run(["cp", "-a", str(self.workdir), str(directory)], check=True)
        return directory


# The resumed-training tests (test_reliability.py, test_slurm.py): the smoke run's GMN of digits,
# seed 0, trained for 60 epochs instead of 2 (about 0.2 s each), long enough to be interrupted at
# chosen epochs; its uninterrupted bytes are made by `longer_training`.
RESUMED_MODEL = "results/smoke/models/digits/gmn/seed-0.pt"
RESUMED_LOG = "logs/smoke/models/digits/gmn/seed-0.log"
RESUMED_EPOCHS = 60


def longer_training_config(directory: Path) -> Path:
    path = directory / "longer-training.yaml"
    path.write_text(yaml.safe_dump({"models": {"gmn": {"training": {"epochs": RESUMED_EPOCHS}}}}))
    return path


def longer_training(smoke: "SmokeRun", directory: Path) -> dict[str, bytes]:
    """The longer GMN training, uninterrupted, in a copy of the smoke run: its checkpoint's and
    metrics' bytes."""
    smoke.copy(directory)
    args = smoke.args("--cores", "2", RESUMED_MODEL, directory=directory, configfile=longer_training_config(directory))
    run(args, cwd=directory)
    return resumed_outputs(directory)


def resumed_outputs(directory: Path) -> dict[str, bytes]:
    model = directory / RESUMED_MODEL
    return {path.name: path.read_bytes() for path in (model, model.with_suffix(".metrics.json"))}


def job_processes(directory: Path, script: str) -> list[int]:
    """PIDs of the running rule scripts named `script` (Snakemake runs a copy under .snakemake/scripts/)
    of the workflow run in `directory`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f"{directory}/.snakemake/scripts/" in command and script in command:
            pids.append(int(proc.name))
    return pids


# Called with the session's smoke run as soon as it has finished, before any test reads or changes
# it: how the SLURM session's background thread, which cannot request fixtures, gets it.
SMOKE_RUN_FINISHED: list = []


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist (CI does)")
    root = tmp_path_factory.mktemp("smoke")
    repo = root / "repo"
    for name in ("workflow", "src", "envs", "presets"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("Snakefile", "config.yaml"):
        shutil.copy2(REPO / name, repo / name)
    smoke = SmokeRun(root / "run", repo)
    smoke.workdir.mkdir()
    run(smoke.args("--cores", "2"), cwd=smoke.workdir)
    for callback in SMOKE_RUN_FINISHED:
        callback(smoke)
    return smoke


def pytest_collection_modifyitems(items):
    """A test that reads a Snakemake run is end to end, wherever it is defined (`make check` skips
    it); the SLURM tests come last: they read runs that go on in the background meanwhile."""
    for item in items:
        if "smoke_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.path.name == "test_slurm.py")


def pytest_collection_finish(session):
    """Start the SLURM cluster and its runs in the background once they are known to be wanted."""
    if not session.config.option.collectonly and any(item.path.name == "test_slurm.py" for item in session.items):
        from test_slurm import start_in_background

        start_in_background()
