"""Audit: is every artifact under results/ still what its job made?

For each artifact in the manifest (see `provenance`): present; sha256 as recorded; every input
still has the sha256 it had when the job ran; the rule's script unchanged. Snakemake's own reasons
(from its dry-run: code, params, input files changed or updated) are added wherever Snakemake would
recompute an artifact, so the audit reports what Snakemake would rerun, and more: changes to
content that Snakemake does not see (a flipped byte in a file it will not redo, a file copied back
with its old date) and missing intermediate files, which Snakemake ignores once their downstream
results exist.

Statuses: OK; MISSING (recorded, now absent); MODIFIED (bytes differ from the record); STALE (the
artifact is as recorded but what made it has changed: an input, the rule's script, the library
code its script imports, or anything Snakemake would rerun it for; or it was made with other CPU
numerics than most jobs of the run, gmnrep.core.numerics); REPORT (an HTML report
written by `snakemake --report`, which runs outside the DAG and so leaves no record; listed, not a
failure); UNRECORDED (a file under results/ that no record claims: made by hand or outside the
workflow; reported, not a failure). A training's resume state (a hidden file beside its
checkpoint while the training runs or after it was killed; gmnrep.models.resume) is no artifact and
is not listed.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import GmnrepError
from gmnrep.core.hashing import sha256_file
from gmnrep.core.numerics import PINNED, Kernels
from gmnrep.models.resume import is_resume_state
from gmnrep.provenance.code import changed_modules

OK, MISSING, MODIFIED, STALE = "OK", "MISSING", "MODIFIED", "STALE"
REPORT, UNRECORDED = "REPORT", "UNRECORDED"
FAILING = (MISSING, MODIFIED, STALE)
STAGES = ("data", "inrs", "models", "activations", "cka", "figures", "tables")


@dataclass
class Finding:
    artifact: str
    status: str
    reason: str
    stage: str
    dataset: str | None
    job: str | None


class _Digests:
    """sha256 of files, each computed once per audit (shards and data files feed many jobs)."""

    def __init__(self):
        self._known: dict[str, str | None] = {}

    def __call__(self, path: str) -> str | None:
        if path not in self._known:
            self._known[path] = sha256_file(Path(path)) if Path(path).is_file() else None
        return self._known[path]


def stage_of(artifact: str, results: Path) -> str:
    try:
        return Path(artifact).relative_to(results).parts[0]
    except (ValueError, IndexError):
        return "other"


def snakemake_reasons(command: list[str], cwd: Path) -> dict[str, str]:
    """Why Snakemake would recompute each output, from its dry-run (`<command> --dry-run`): the
    reasons it gives per job, e.g. "Code has changed since last execution; Params have changed
    since last execution", each shortened to its phrase (the file lists are left out)."""
    proc = subprocess.run([*command, "--dry-run", "--nolock"], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GmnrepError(f"snakemake --dry-run failed:\n{proc.stderr[-3000:]}")
    return dry_run_reasons(proc.stdout)


def dry_run_reasons(output: str) -> dict[str, str]:
    """The reasons of a Snakemake dry run's `output` (its standard output), per output it would make."""
    reasons, outputs = {}, []
    for line in output.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "output":
            outputs = value.split(", ")
        elif key == "reason":
            phrases = "; ".join(dict.fromkeys(part.split(":")[0].strip() for part in value.split("; ")))
            reasons.update((output, phrases) for output in outputs)
    return reasons


def is_snakemake_report(path: Path) -> bool:
    """An HTML report written by `snakemake --report` (its page title says so, near the top)."""
    if path.suffix != ".html":
        return False
    with open(path, "rb") as f:
        return b"<title>Snakemake Report</title>" in f.read(4096)


def _reasons(
    record: dict, digest: _Digests, code_now: Callable[[str], dict] | None, script_now: Callable[[str], Path] | None
) -> list[str]:
    reasons = []
    for entry in record["inputs"]:
        now = digest(entry["path"])
        if now is None:
            reasons.append(f"input {entry['path']} is gone")
        elif now != entry["sha256"]:
            reasons.append(f"input {entry['path']} changed since")
    script = str(script_now(record["rule"])) if script_now else record["script"]["path"]
    if digest(script) != record["script"]["sha256"]:
        reasons.append(f"rule script {script} changed since")
    # records made before the modules' digests were recorded have none to compare
    recorded_code = record.get("code")
    if recorded_code and code_now is not None:
        changed = changed_modules(recorded_code, code_now(record["rule"]))
        if changed:
            reasons.append(f"code its script imports changed since: {', '.join(changed)}")
    return reasons


def check(
    manifest: dict,
    results: Path,
    snakemake: dict[str, str] | None = None,
    code_now: Callable[[str], dict] | None = None,
    script_now: Callable[[str], Path] | None = None,
) -> list[Finding]:
    """One finding per recorded artifact and per file under `results` that no record claims (audit/
    excluded). `snakemake`: Snakemake's dry-run reason for each output it would recompute;
    `code_now`: a rule's name -> the digest of each module its script imports now (see
    `gmnrep.provenance.code.script_code`), compared with those its jobs recorded; `script_now`: a
    rule's name -> its script in the workflow audited (default: where its jobs recorded it; a
    checkout that moved since would be compared with a path no longer its own)."""
    digest = _Digests()
    findings = []
    usual_numerics = _usual_numerics(manifest)
    for artifact, job in manifest["artifacts"].items():
        record = manifest["jobs"][job]
        (recorded,) = [o for o in record["outputs"] if o["path"] == artifact]
        stage, dataset = stage_of(artifact, results), record["wildcards"].get("dataset")
        now = digest(artifact)
        # Snakemake judges by dates and its own records, not by content: name the repair
        repair = f"recompute: snakemake --forcerun {artifact}"
        if now is None:
            status, reason = MISSING, f"made by {job} (ended {record['end']}), now absent; {repair}"
        elif now != recorded["sha256"]:
            status, reason = MODIFIED, f"sha256 differs from the one {job} recorded; {repair}"
        else:
            reasons = _reasons(record, digest, code_now, script_now)
            if artifact in (snakemake or {}):
                reasons.append(f"Snakemake would recompute it: {snakemake[artifact]}")
            numerics_used = _numerics_key(record)
            if numerics_used and usual_numerics and numerics_used != usual_numerics:
                reasons.append(
                    f"made with CPU numerics {dict(numerics_used)}, most jobs of the run with {dict(usual_numerics)}: "
                    f"its bits may differ from a run under one setting; {repair}"
                )
            reasons += [f"{escape}; {repair}" for escape in _escaped_kernels(record)]
            status, reason = (STALE, "; ".join(reasons)) if reasons else (OK, f"as made by {job}")
        findings.append(Finding(artifact, status, reason, stage, dataset, job))
    recorded_paths = set(manifest["artifacts"])
    last_end = max((record["end"] for record in manifest["jobs"].values()), default="")
    for path in sorted(results.rglob("*")):
        stage = stage_of(str(path), results)
        if not path.is_file() or stage == "audit" or str(path) in recorded_paths or is_resume_state(path):
            continue
        if is_snakemake_report(path):
            findings.append(Finding(str(path), REPORT, _report_reason(path, last_end), stage, None, None))
        else:
            findings.append(Finding(str(path), UNRECORDED, "no provenance record claims it", stage, None, None))
    return findings


def _numerics_key(record: dict) -> tuple:
    """The CPU-numerics settings a job ran with (config cpu_numerics), () in records made before
    they were recorded."""
    return tuple(sorted((k, v) for k, v in record.get("numerics", {}).items() if k in PINNED))


def _escaped_kernels(record: dict) -> list[str]:
    """For a job that ran with CPU numerics pinned: each library whose kernels were not the pinned
    ones (a library or build the pins do not reach on that machine)."""
    if _numerics_key(record) != tuple(sorted(PINNED.items())):
        return []
    kernels = [Kernels(**k) for k in record["numerics"].get("kernels", [])]
    return [
        f"ran with CPU numerics pinned, but {k.library} chose {k.chosen} kernels, not the pinned {k.pinned}: "
        "its bits may differ from other machines'"
        for k in kernels
        if k.escaped
    ]


def _usual_numerics(manifest: dict) -> tuple:
    """The settings most of the run's recorded jobs ran with."""
    used = Counter(_numerics_key(record) for record in manifest["jobs"].values())
    used.pop((), None)
    return used.most_common(1)[0][0] if used else ()


def _report_reason(path: Path, last_end: str) -> str:
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    made = "snakemake --report (outside the DAG: no record)"
    if written < last_end:
        return f"{made}; written {written}, before the last job ended ({last_end}): write it again"
    return f"{made}; written {written}, after the last job ended"


def select(findings: list[Finding], dataset: str | None = None, stage: str | None = None) -> list[Finding]:
    return [f for f in findings if (dataset is None or f.dataset == dataset) and (stage is None or f.stage == stage)]


def failed(findings: list[Finding]) -> bool:
    return any(f.status in FAILING for f in findings)


def counts(findings: list[Finding]) -> dict[str, int]:
    return dict(Counter(f.status for f in findings))


def format_table(findings: list[Finding]) -> str:
    rows = [("artifact", "status", "reason")] + [(f.artifact, f.status, f.reason) for f in findings]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{width[0]}}  {s:<{width[1]}}  {r}" for a, s, r in rows]
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts(findings).items()))
    return "\n".join(lines + [f"{len(findings)} artifacts: {summary or 'none recorded'}"])


def to_json(findings: list[Finding]) -> str:
    return json.dumps(
        {"ok": not failed(findings), "counts": counts(findings), "artifacts": [asdict(f) for f in findings]}, indent=1
    )


def print_report(findings: list[Finding], as_json: bool) -> None:
    print(to_json(findings) if as_json else format_table(findings))


SUMMARY_COLUMNS = (
    "stage",
    "artifacts",
    "jobs",
    "bytes",
    "git_commits",
    "dirty_checkout",
    "cpus",
    "gpus",
    "cpu_numerics",
    "packages",
    "first_start",
    "last_end",
)


def summary_rows(manifest: dict, results: Path) -> list[dict]:
    """Per stage: how many artifacts and jobs, made with which commits, hardware and packages, when."""
    by_stage: dict[str, dict] = {}
    for artifact, job in manifest["artifacts"].items():
        record = manifest["jobs"][job]
        stage = by_stage.setdefault(stage_of(artifact, results), {"artifacts": [], "jobs": {}})
        stage["artifacts"].append(next(o for o in record["outputs"] if o["path"] == artifact))
        stage["jobs"][job] = record

    def distinct(values) -> str:
        return "; ".join(sorted({str(v) for v in values}))

    rows = []
    for name in sorted(by_stage, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES)):
        jobs = list(by_stage[name]["jobs"].values())
        rows.append(
            {
                "stage": name,
                "artifacts": len(by_stage[name]["artifacts"]),
                "jobs": len(jobs),
                "bytes": sum(o["bytes"] for o in by_stage[name]["artifacts"]),
                "git_commits": distinct((r["git"] or {}).get("commit", "none")[:12] for r in jobs),
                "dirty_checkout": distinct((r["git"] or {}).get("dirty", "unknown") for r in jobs),
                "cpus": distinct(r["hardware"]["cpu"] for r in jobs),
                "gpus": distinct(r["hardware"]["gpu"] or "none" for r in jobs),
                "cpu_numerics": distinct(
                    ", ".join(f"{k}={v}" for k, v in _numerics_key(r)) or "not recorded" for r in jobs
                ),
                "packages": distinct(
                    ", ".join(f"{k} {v}" for k, v in sorted(r["packages"].items()) if v) + f", python {r['python']}"
                    for r in jobs
                ),
                "first_start": min(r["start"] for r in jobs),
                "last_end": max(r["end"] for r in jobs),
            }
        )
    return rows


def write_summary(path: Path, rows: list[dict]) -> None:
    write_texts({path: to_csv(rows, SUMMARY_COLUMNS)})
