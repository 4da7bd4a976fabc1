import functools
import hashlib
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from forked_snakemake import ForkedRun, SnakemakeServer
from gmnrep.core.atomic import atomic_path

# The test workers run beside each other and beside the runs they start: OpenMP's and OpenBLAS's
# threads, waiting actively for each other on a busy machine, made tests up to 40 times slower
# (docs/performance.md). Every process of the session computes on one thread, as the workflow's
# jobs do by default; set before torch or numpy is imported anywhere in it.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

REPO = Path(__file__).resolve().parents[1]
# The DGL reference GMN (bench/gmn_dgl.py) is not shipped with the library; tests compare against it.
sys.path.insert(0, str(REPO / "bench"))
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Every Snakemake start imports the SLURM executor plugin, which asks `scontrol show config` for a
# value in its help text. Where SLURM's client is installed but no controller answers (after the
# SLURM tests have stopped theirs, or on a workstation) that question waits 9 s, in every dry run
# and job of a local test run. Local runs need no controller: pointed at an empty configuration,
# `scontrol` fails at once. The SLURM tests run their commands with SLURM_ENV, the environment as it
# was; pytest-xdist's workers inherit the changed one, and find the user's value in GMNREP_SLURM_CONF.
os.environ.setdefault("GMNREP_SLURM_CONF", os.environ.get("SLURM_CONF", ""))
SLURM_ENV = {key: value for key, value in os.environ.items() if key not in ("SLURM_CONF", "GMNREP_SLURM_CONF")}
if os.environ["GMNREP_SLURM_CONF"]:
    SLURM_ENV["SLURM_CONF"] = os.environ["GMNREP_SLURM_CONF"]
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


PRESETS = ("paper", "demo", "smoke", "fmnist", "fmnist_scalegmn", "fmnist_metanetworks")


# A preset layered over another one as well as over config.yaml (its file's header says so).
LAYERED_OVER = {"fmnist_scalegmn": "fmnist", "fmnist_metanetworks": "fmnist_scalegmn"}


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


def snakemake_args(*args: str) -> list[str]:
    """`args` for Snakemake, with this repository's workflow unless they name one (a copy's: smoke_args)."""
    snakefile = [] if {"-s", "--snakefile"} & set(args) else ["-s", str(REPO / "Snakefile")]
    return [*snakefile, *args]


def snakemake_cmd(*args: str) -> list[str]:
    """Snakemake's command line on `args` (snakemake_args)."""
    return [sys.executable, "-m", "snakemake", *snakemake_args(*args)]


def random_images(n: int, shape=(8, 8), seed: int = 0):
    """`n` uint8 images (numpy is imported here, not above, so that the thread settings above
    reach OpenBLAS, which reads them when it loads)."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


@functools.cache
def snakemake_server() -> SnakemakeServer:
    """This test process's server of forked Snakemake runs (tests/forked_snakemake.py)."""
    return SnakemakeServer()


def run(args, cwd, check=True, timeout=900, env=None):
    """Snakemake on this repository's workflow, in a process forked from one that has imported it
    (in `env`, default this process's environment); on failure the assertion shows the end of its
    output."""
    proc = snakemake_server().run(snakemake_args(*args), cwd, timeout, env)
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


def user_directory(path: Path) -> Path:
    """A working directory as a user's checkout has it for a dry run: config.yaml at its root."""
    path.mkdir(exist_ok=True)
    (path / "config.yaml").symlink_to(REPO / "config.yaml")
    return path


def jobs_of(workdir: Path, configfiles: list[Path], config: dict | None = None) -> ForkedRun:
    """Started in the background: every job Snakemake would run in `workdir` with these config files
    (after the Snakefile's config.yaml) and `--config` values, with its rule, params and outputs
    (tests/snakemake_jobs.py; read with `read_jobs`)."""
    args = [str(REPO / "Snakefile"), json.dumps(config or {}), *map(str, configfiles)]
    return snakemake_server().start(args, workdir, script=REPO / "tests/snakemake_jobs.py")


def read_jobs(started: ForkedRun) -> dict[str, dict]:
    proc = started.result(timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# The smoke runs' raw folder, relative to the run's folder: a copy of a run has its own.
SMOKE_RAW_DIR = "raw"


def smoke_args(workdir: Path, *extra: str, repo: Path = REPO, raw_dir: str | Path = SMOKE_RAW_DIR) -> list[str]:
    """The smoke preset of the workflow at `repo`, in `workdir`, with the raw folder `raw_dir` (default:
    raw/ inside the run's folder, so that a copy of the run has its own; digits and Debian's
    Fashion-MNIST need no download). `extra` may start with more KEY=VALUE entries for --config."""
    return [
        "-s",
        str(repo / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, preset_files("smoke", repo)),
        "--config",
        f"raw_dir={raw_dir}",
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
    """A local run of the smoke DAG, in `workdir`, made with a copy of the workflow at `repo`
    (Snakefile, config, presets, rules, scripts, library), so that a test may change a rule script
    without touching the repository. `peak_rss_mb`: its largest process. Each pytest worker reads
    its own copy of the session's one run (`smoke_run`); a test that tampers with it restores it."""

    workdir: Path
    repo: Path
    peak_rss_mb: float

    def args(self, *extra: str, directory: Path | None = None, configfile: Path | None = None) -> list[str]:
        """Snakemake arguments for this run's workflow and settings (with `configfile` layered over
        the preset), in `directory` (default: the run's own)."""
        args = smoke_args(directory or self.workdir, *extra, repo=self.repo)
        if configfile:
            args.insert(args.index("--config"), str(configfile))
        return args

    def copy(self, directory: Path) -> Path:
        """The run's directory copied to `directory`, times kept (Snakemake plans by them), raw files
        included; run it there with `args(..., directory=directory)`."""
        subprocess.run(["cp", "-a", str(self.workdir), str(directory)], check=True)
        return directory

    def copy_with_workflow(self, root: Path) -> "SmokeRun":
        """The run and its workflow copied under `root` (run/ and repo/), times kept; not the
        workflow's bytecode, which another run of it may be writing meanwhile."""
        shutil.copytree(self.repo, root / "repo", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        self.copy(root / "run")
        return SmokeRun(root / "run", root / "repo", self.peak_rss_mb)


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


LONGER_TRAINING_LIMIT_S = 600


def longer_training(smoke: "SmokeRun", shared: Path) -> dict[str, bytes]:
    """The longer GMN training, uninterrupted, in a copy of the smoke run: its checkpoint's and
    metrics' bytes. Made once per session, in the shared folder `shared`, by the first process to
    ask (the SLURM session or the local kill test), and read by the other."""

    def train() -> bytes:
        directory = smoke.copy(shared / "longer-training" / "run")
        config = longer_training_config(directory)
        run(smoke.args("--cores", "2", RESUMED_MODEL, directory=directory, configfile=config), cwd=directory)
        return pickle.dumps(resumed_outputs(directory))

    return pickle.loads(made_once(shared / "longer-training", train, LONGER_TRAINING_LIMIT_S))


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


# pytest-xdist's workers (`make test` starts one per core) share a folder, where work every one
# of them needs is done once, in the background from collection on: the smoke run (here) and the
# SLURM session (test_slurm.py). The session's top process (xdist's controller, or the one process
# of a run without workers) makes the smoke run when a worker asks for it; the workers yield the
# CPU to it (WORKER_NICENESS), since most end-to-end tests wait for it.
SHARED = pytest.StashKey[Path]()
BACKGROUND: list[threading.Thread] = []  # joined before this process ends
WORKER_NICENESS = 10
SMOKE_LIMIT_S = 900
# Snakemake (9.27) re-evaluates its schedule one timespan after each pass, and each finished job
# starts a pass and so another chain of them: over the smoke run's jobs its own process comes to
# poll ever more often. The same job rate over 5 s makes those polls five times rarer; the run ends
# up to 5 s after its last job. (Not in profiles/default: Snakemake lays the workflow's profile
# over `--profile slurm`, whose job rate is for the controller.)
SMOKE_RUN_RATE = ("--max-jobs-per-timespan", "500/5s")


def pytest_configure(config):
    worker = getattr(config, "workerinput", None)
    config.stash[SHARED] = Path(worker["gmnrep_shared"] if worker else tempfile.mkdtemp(prefix="gmnrep-tests-"))
    if worker:
        os.nice(WORKER_NICENESS)
    else:
        SmokeRunMaker.start(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist's controller: every worker gets the controller's shared folder."""
    node.workerinput["gmnrep_shared"] = str(node.config.stash[SHARED])


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        SmokeRunMaker.stop()
    for thread in BACKGROUND:
        thread.join()


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        shutil.rmtree(config.stash[SHARED], ignore_errors=True)


def claim(folder: Path) -> bool:
    """`folder` (in the session's shared folder) made: True for the first process of the session to
    ask, False for the others."""
    try:
        folder.mkdir()
    except FileExistsError:
        return False
    return True


def made_once(folder: Path, make: Callable[[], bytes], limit_s: float) -> bytes:
    """What `make` returns, made by the first process of the session to ask (it claims `folder`, in
    the shared folder) and read by the others, which wait for it up to `limit_s`; the maker's failure
    fails them too, with its traceback."""
    made, failed = folder / "made", folder / "error.txt"
    if not claim(folder):
        deadline = time.monotonic() + limit_s
        while not made.is_file():
            if failed.is_file():
                raise AssertionError(f"{folder.name} could not be made:\n{failed.read_text()}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{folder.name} was not made within {limit_s} s") from None
            time.sleep(0.2)
        return made.read_bytes()
    try:
        content = make()
    except BaseException:
        with atomic_path(failed) as written:
            written.write_text(traceback.format_exc())
        raise
    with atomic_path(made) as written:
        written.write_bytes(content)
    return content


def in_background(work: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=work, name=name, daemon=True)
    BACKGROUND.append(thread)
    thread.start()
    return thread


class SharedSmokeRun:
    """The session's one local run of the smoke DAG, in the shared folder: asked for by the first
    process to collect a test that reads it, made by the session's top process (SmokeRunMaker),
    waited for by every test that reads it. Never changed once made: tests read copies of it."""

    def __init__(self, config):
        self.folder = config.stash[SHARED] / "smoke"
        self.made = SmokeRun(self.folder / "run", self.folder / "repo", peak_rss_mb=0.0)
        self.outcome = self.folder / "outcome.json"

    def ask(self) -> None:
        self.folder.mkdir(exist_ok=True)

    def wait(self) -> SmokeRun:
        self.ask()
        deadline = time.monotonic() + SMOKE_LIMIT_S + 60
        while not self.outcome.is_file():
            if time.monotonic() > deadline:
                raise AssertionError(f"the smoke run did not finish within {SMOKE_LIMIT_S} s")
            time.sleep(0.5)
        outcome = json.loads(self.outcome.read_text())
        if outcome["returncode"] != 0:
            log = (self.folder / "snakemake.out").read_text(errors="replace")[-6000:]
            raise AssertionError(f"the session's smoke run failed:\n{outcome.get('error', '')}{log}")
        return SmokeRun(self.made.workdir, self.made.repo, outcome["peak_rss_mb"])


class SmokeRunMaker:
    """In the session's top process: makes the shared smoke run once it is asked for, stopped (and
    not started) once the session is over."""

    session_over = threading.Event()
    process: subprocess.Popen | None = None

    @classmethod
    def start(cls, config) -> None:
        in_background(lambda: cls._make_when_asked(SharedSmokeRun(config)), "smoke-run")

    @classmethod
    def stop(cls) -> None:
        cls.session_over.set()
        if cls.process is not None and cls.process.returncode is None:
            cls.process.terminate()  # `timeout` passes it on to Snakemake, which stops its jobs

    @classmethod
    def _make_when_asked(cls, shared: SharedSmokeRun) -> None:
        while not shared.folder.is_dir():
            if cls.session_over.wait(timeout=0.2):
                return
        try:
            made = shared.made
            for name in ("workflow", "src", "envs", "presets"):
                ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
                shutil.copytree(REPO / name, made.repo / name, ignore=ignore)
            for name in ("Snakefile", "config.yaml"):
                shutil.copy2(REPO / name, made.repo / name)
            made.workdir.mkdir()
            args = made.args("--cores", "2", *SMOKE_RUN_RATE)
            command = ["timeout", "-k", "10", str(SMOKE_LIMIT_S), *snakemake_cmd(*args)]
            with open(shared.folder / "snakemake.out", "w") as out:
                # in this process's session: a session of its own would be scheduled beside the
                # workers' as a group of equal weight (Linux's autogroups), whatever their niceness
                cls.process = subprocess.Popen(command, cwd=made.workdir, stdout=out, stderr=subprocess.STDOUT)
            # wait4: the largest process of the run, its jobs included (Linux reports KiB)
            _, status, usage = os.wait4(cls.process.pid, 0)
            cls.process.returncode = os.waitstatus_to_exitcode(status)
            outcome = {"returncode": cls.process.returncode, "peak_rss_mb": usage.ru_maxrss / 1024}
        except BaseException:
            outcome = {"returncode": None, "error": traceback.format_exc()}
        with atomic_path(shared.outcome) as written:
            written.write_text(json.dumps(outcome))


@pytest.fixture(scope="session")
def smoke_run(request, tmp_path_factory) -> SmokeRun:
    """This worker's copy of the session's smoke run."""
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist (CI does)")
    return SharedSmokeRun(request.config).wait().copy_with_workflow(tmp_path_factory.mktemp("smoke"))


def rule_counts(jobs: dict[str, dict]) -> Counter:
    """Jobs per rule of a `preset_jobs` DAG."""
    return Counter(job["rule"] for job in jobs.values())


PRESET_JOBS_LIMIT_S = 600


@pytest.fixture(scope="session")
def preset_jobs(request, tmp_path_factory) -> Callable[[str], dict[str, dict]]:
    """Every job a user's dry run of a preset plans in an empty checkout (the preset's files named,
    config.yaml from the Snakefile): {job: {"rule", "params", "outputs"}}. Each preset's DAG is
    built once per session, by the first process to ask, and read by the others from the session's
    shared folder."""

    @functools.cache
    def jobs(preset: str) -> dict[str, dict]:
        def build() -> bytes:
            workdir = user_directory(tmp_path_factory.mktemp(preset))
            return json.dumps(read_jobs(jobs_of(workdir, preset_files(preset)[1:]))).encode()

        return json.loads(made_once(request.config.stash[SHARED] / f"jobs-{preset}", build, PRESET_JOBS_LIMIT_S))

    return jobs


def reads_the_smoke_run(item) -> bool:
    return "smoke_run" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items):
    """A test that reads a Snakemake run is end to end, wherever it is defined (`make check` skips
    it). Tests that do not read the smoke run come first, while it is being made; the SLURM tests
    come last: they read runs that go on in the background meanwhile."""
    for item in items:
        if reads_the_smoke_run(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: (item.path.name == "test_slurm.py", reads_the_smoke_run(item)))


def pytest_collection_finish(session):
    """Start the shared work once it is known to be wanted."""
    if session.config.option.collectonly:
        return
    if FASHION_DIR.is_dir() and any(map(reads_the_smoke_run, session.items)):
        SharedSmokeRun(session.config).ask()
    if any(item.path.name == "test_slurm.py" for item in session.items):
        from test_slurm import start_in_background

        start_in_background(session.config)
