"""Provenance: what made each artifact, from what, with which code, settings, packages and hardware.

Every job of the workflow leaves one record (JSON) under `{results}/audit/jobs/`, written after its
outputs are complete: the rule and wildcards; the path, sha256 and size of each input and output;
the settings the rule was given (its params) and their hash; the sha256 of the rule's script and
of this library's source, and the digest of each module the script imports (gmnrep.provenance.code,
of which the params hold one digest); the git commit of the checkout (and whether it had uncommitted changes);
the versions of Python and the key packages; the CPU and GPU and the CPU numerics it ran with
(gmnrep.core.numerics); start and end time (UTC).
`gather` collects the records into one manifest, `{results}/audit/manifest.json`.

Records are not outputs Snakemake tracks: deleting them loses the history, never forces a rerun.

Verify on read: before a job's body runs, each of its inputs under the workflow's own folders
(results, raw files) is hashed and its sha256 compared with the record of the job that made it. A
mismatch stops the job before anything parses the file (so a damaged HDF5 file never reaches
h5py), naming the file, the job and when it ran, and the repair. An input without a record (made
by an older version, fetched under another preset, or placed by hand) is read with a warning in
the job log. The hashes are computed once: the job's own record reuses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from gmnrep.core import numerics
from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import config_hash, sha256_file
from gmnrep.core.joblog import job_log

SCHEMA_VERSION = 1
PACKAGES = ("torch", "dgl", "numpy", "h5py", "snakemake", "snakemake-executor-plugin-slurm")
LIBRARY = Path(__file__).resolve().parents[1]  # the gmnrep package, every stage's modules


def file_entry(path: Path) -> dict:
    return {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}


def library_sources() -> list[Path]:
    """The library's source files, in name order."""
    return sorted(LIBRARY.rglob("*.py"))


def library_digest() -> str:
    """sha256 over the library's source files (names and contents), in name order."""
    digest = hashlib.sha256()
    for source in library_sources():
        digest.update(str(source.relative_to(LIBRARY)).encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (nothing is imported)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_model() -> str | None:
    """The GPU the job could use: only asked of torch when the job loaded it (CKA and table jobs don't)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def job_numerics() -> dict:
    """The job's CPU numerics: the pinning variables as it saw them, and the kernels each numerical
    library it loaded chose, beside the ones the pins hold it to."""
    return {**numerics.settings(), "kernels": [asdict(kernels) for kernels in numerics.loaded_kernels()]}


def git_state(directory: Path) -> dict | None:
    """Commit of the checkout holding `directory`, and whether it differs from that commit; None
    outside a git checkout (e.g. an unpacked release)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def producers(audit_dir: Path) -> dict[str, dict]:
    """Each artifact recorded under `audit_dir/jobs` -> the job that made it last: its id, end time
    and the sha256 it recorded. Records written by other jobs meanwhile are complete (atomic writes);
    a record removed between listing and reading belongs to a job starting again now, whose outputs
    no running job can be reading."""
    made = {}
    for path in (Path(audit_dir) / "jobs").rglob("*.json"):
        try:
            record = read_record(path)
        except DataError:
            if not path.exists():
                continue
            raise
        for output in record.outputs:
            key = os.path.normpath(output["path"])
            if key not in made or made[key]["end"] < record.end:
                made[key] = {"job": record.job_id, "end": record.end, "sha256": output["sha256"]}
    return made


def verified_inputs(inputs: list[Path], audit_dir: Path, workflow_roots: list[Path]) -> list[dict]:
    """The file entries of `inputs`, each under `workflow_roots` checked against the record of the
    job that made it: DataError on a mismatch, a warning (stderr: the job log) without a record."""
    made = producers(audit_dir)
    roots = [Path(os.path.normpath(root)) for root in workflow_roots]
    entries = []
    for path in inputs:
        entry = file_entry(path)
        key = os.path.normpath(str(path))
        if key in made:
            producer = made[key]
            if producer["sha256"] != entry["sha256"]:
                raise DataError(
                    f"{path}: its sha256 is {entry['sha256']}, but {producer['job']} recorded "
                    f"{producer['sha256']} when it made the file (finished {producer['end']}); the file "
                    f"changed after it was made, so it is not read. Repair: snakemake --forcerun {path}"
                )
        elif any(Path(key).is_relative_to(root) for root in roots):
            print(
                f"WARNING: {path}: no provenance record of the job that made it (made by an older version, "
                f"fetched under another preset, or placed by hand); read without a sha256 check",
                file=sys.stderr,
            )
        entries.append(entry)
    return entries


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class JobRecord:
    rule: str
    wildcards: dict[str, str]
    inputs: list[dict]
    outputs: list[dict]
    params: dict
    params_hash: str
    script: dict
    library_sha256: str
    git: dict | None
    python: str
    packages: dict[str, str | None]
    hardware: dict
    host: str
    start: str
    end: str
    schema_version: int = SCHEMA_VERSION
    numerics: dict = field(default_factory=dict)  # empty in records made before it was recorded
    # each module the script imports -> its digest (gmnrep.provenance.code); empty in records made
    # before it was recorded
    code: dict[str, str] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return job_id(self.rule, self.wildcards)


def job_id(rule: str, wildcards: dict[str, str]) -> str:
    """train_model[dataset=mnist,arch=gmn,seed=0]: the same for every run of the same job."""
    if not wildcards:
        return rule
    return rule + "[" + ",".join(f"{k}={v}" for k, v in wildcards.items()) + "]"


def record_path(audit_dir: Path, rule: str, wildcards: dict[str, str]) -> Path:
    name = "_".join(f"{k}-{v}" for k, v in wildcards.items()) or "job"
    return audit_dir / "jobs" / rule / f"{name}.json"


def write_record(record: JobRecord, audit_dir: Path) -> Path:
    path = record_path(audit_dir, record.rule, record.wildcards)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(record), indent=1, sort_keys=True) + "\n")
    return path


@contextlib.contextmanager
def recorded_job(
    *,
    rule: str,
    wildcards: dict[str, str],
    inputs: list[Path],
    outputs: list[Path],
    params: dict,
    code: dict[str, str],
    script: Path,
    log: Path,
    title: str,
    audit_dir: Path,
    workflow_roots: list[Path],
):
    """Run a job's body inside its log (see `runlog.job_log`), after verifying its inputs (see
    `verified_inputs`); once the body has succeeded, record its provenance, with `code`: the digest
    of each module its script imports (gmnrep.provenance.code.script_code). A failed job leaves no
    record (an earlier run's record of it is removed first). Yields the job's fingerprint: a hash
    of its params (settings and code digest) and its inputs' sha256, the same for every attempt
    of the same job on the same inputs."""
    record_path(audit_dir, rule, wildcards).unlink(missing_ok=True)
    start = _now()
    with job_log(log, title):
        input_entries = verified_inputs(inputs, audit_dir, workflow_roots)
        yield config_hash({"params": params, "inputs": [entry["sha256"] for entry in input_entries]})
        record = JobRecord(
            rule=rule,
            wildcards=dict(wildcards),
            inputs=input_entries,
            outputs=[file_entry(p) for p in outputs],
            params=params,
            params_hash=config_hash(params),
            script=file_entry(script),
            library_sha256=library_digest(),
            git=git_state(script.parent),
            python=platform.python_version(),
            packages=package_versions(),
            hardware={"cpu": cpu_model(), "gpu": gpu_model(), "cpus_allowed": len(os.sched_getaffinity(0))},
            numerics=job_numerics(),
            code=code,
            host=socket.gethostname(),
            start=start,
            end=_now(),
        )
        write_record(record, audit_dir)


def read_record(path: Path) -> JobRecord:
    try:
        fields = json.loads(path.read_text())
        return JobRecord(**fields)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable provenance record ({exc})") from None


def gather(audit_dir: Path) -> dict:
    """Every job record under `audit_dir/jobs`, and for each artifact the job that made it last."""
    jobs = sorted((read_record(p) for p in (audit_dir / "jobs").rglob("*.json")), key=lambda r: r.job_id)
    artifacts = {}
    for record in jobs:
        for output in record.outputs:
            artifacts[output["path"]] = record.job_id
    return {
        "schema_version": SCHEMA_VERSION,
        "jobs": {record.job_id: asdict(record) for record in jobs},
        "artifacts": dict(sorted(artifacts.items())),
    }


def write_manifest(audit_dir: Path) -> dict:
    manifest = gather(audit_dir)
    with atomic_path(audit_dir / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
