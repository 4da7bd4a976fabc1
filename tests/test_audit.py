"""Provenance records and `gmnrep audit`: a finished smoke run audits clean, and each tampering is
caught with the artifact named and a non-zero exit. The run is the session's `smoke_run`, made with
a copy of the workflow, so that a test may change a rule script without touching the repository."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

import gmnrep
from conftest import SMOKE_RAW_DIR, preset_files, run
from gmnrep.core import numerics
from gmnrep.core.hashing import sha256_file
from gmnrep.models import resume
from gmnrep.provenance import audit, code, records

RESULTS = "results/smoke"


def test_a_job_record_holds_inputs_outputs_code_settings_and_environment(tmp_path):
    source, target, script = tmp_path / "in.txt", tmp_path / "out.txt", tmp_path / "step.py"
    source.write_text("input")
    script.write_text("print('step')")
    with records.recorded_job(
        rule="step",
        wildcards={"dataset": "digits"},
        inputs=[source],
        outputs=[target],
        params={"k": 1},
        code={"step_helper.py": "0" * 64},
        script=script,
        log=tmp_path / "step.log",
        title="step",
        audit_dir=tmp_path / "audit",
        workflow_roots=[],
    ):
        target.write_text("output")
    record = records.read_record(tmp_path / "audit/jobs/step/dataset-digits.json")
    assert record.job_id == "step[dataset=digits]"
    assert record.inputs == [records.file_entry(source)] and record.outputs == [records.file_entry(target)]
    assert record.params == {"k": 1} and record.script["sha256"] == sha256_file(script)
    assert record.code == {"step_helper.py": "0" * 64}
    assert record.packages["torch"] and record.packages["snakemake"] and record.python
    assert record.hardware["cpu"] and record.start <= record.end
    manifest = records.write_manifest(tmp_path / "audit")
    assert manifest["artifacts"] == {str(target): "step[dataset=digits]"}
    assert json.loads((tmp_path / "audit/manifest.json").read_text()) == manifest


def test_the_library_digest_covers_every_module_of_every_stage():
    package = Path(gmnrep.__file__).parent
    hashed = {path.relative_to(package).as_posix() for path in records.library_sources()}
    assert {"representations/cka.py", "models/gmn.py", "paper/claims.py", "provenance/records.py"} <= hashed
    assert hashed == {path.relative_to(package).as_posix() for path in package.rglob("*.py")}


def test_a_failed_job_leaves_no_record(tmp_path):
    script = tmp_path / "step.py"
    script.write_text("")
    arguments = dict(
        rule="step",
        wildcards={},
        inputs=[],
        outputs=[],
        params={},
        code={},
        script=script,
        log=tmp_path / "step.log",
        title="step",
        audit_dir=tmp_path / "audit",
        workflow_roots=[],
    )
    with records.recorded_job(**arguments):
        pass
    assert (tmp_path / "audit/jobs/step/job.json").is_file()
    with pytest.raises(RuntimeError), records.recorded_job(**arguments):
        raise RuntimeError("the job failed")
    assert not (tmp_path / "audit/jobs/step/job.json").exists()


def test_a_snakemake_report_is_listed_as_a_report_and_said_to_be_out_of_date_after_a_later_job(tmp_path):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    table = results / "tables/t.csv"
    table.write_text("a\n1\n")
    report, notes = results / "report.html", results / "notes.html"
    report.write_text("<!doctype html>\n<html><head><title>Snakemake Report</title></head></html>")
    notes.write_text("<html><head><title>my notes</title></head></html>")
    job = {"outputs": [records.file_entry(table)], "inputs": [], "params": {}, "wildcards": {}, "end": "9999"}
    job["script"] = records.file_entry(table)
    manifest = {"artifacts": {str(table): "t"}, "jobs": {"t": job}}
    found = {f.artifact: f for f in audit.check(manifest, results)}
    assert found[str(report)].status == audit.REPORT and "write it again" in found[str(report)].reason
    assert found[str(notes)].status == audit.UNRECORDED and found[str(table)].status == audit.OK
    job["end"] = "2000-01-01T00:00:00+00:00"
    assert "after the last job ended" in {f.artifact: f for f in audit.check(manifest, results)}[str(report)].reason
    assert not audit.failed(audit.check(manifest, results))


def test_a_trainings_resume_state_is_not_listed_but_a_hidden_file_that_is_none_is(tmp_path):
    """A resume state lives beside its checkpoint while the training runs (or after it was killed):
    no artifact, no finding. Any other file no record claims is still reported."""
    results = tmp_path / "results"
    models = results / "models/digits/gmn"
    models.mkdir(parents=True)
    state = resume.ResumePlan(models / "seed-0.pt", "job", 1).path
    state.write_bytes(b"state")
    stray = models / ".seed-0.pt.notes"
    stray.write_text("mine")
    found = {f.artifact: f.status for f in audit.check({"artifacts": {}, "jobs": {}}, results)}
    assert found == {str(stray): audit.UNRECORDED}


def test_an_artifact_made_with_other_cpu_numerics_than_the_run_is_stale_naming_them(tmp_path):
    results = tmp_path / "results"
    tables = results / "tables"
    tables.mkdir(parents=True)
    manifest = {"artifacts": {}, "jobs": {}}
    blas = {"library": "openblas 0.3.30 (libscipy_openblas.so)", "pinned": "Haswell"}
    kernels = {"a": "Haswell", "e": "SkylakeX"}  # e: pinned settings, but its OpenBLAS escaped the pin
    for name, mkl in (("a", "AVX2"), ("b", "AVX2"), ("c", None), ("d", "AVX2"), ("e", "AVX2")):
        table = tables / f"{name}.csv"
        table.write_text(f"{name}\n")
        job = {"outputs": [records.file_entry(table)], "inputs": [], "params": {}, "wildcards": {}, "end": "9999"}
        job.update(script=records.file_entry(table), numerics={**numerics.PINNED, "MKL_CBWR": mkl})
        if name in kernels:
            job["numerics"]["kernels"] = [blas | {"chosen": kernels[name]}]
        if name == "d":
            del job["numerics"]  # a record made before the numerics were recorded: nothing to compare
        manifest["artifacts"][str(table)], manifest["jobs"][name] = name, job
    found = {Path(f.artifact).stem: f for f in audit.check(manifest, results)}
    statuses = {name: f.status for name, f in found.items()}
    assert statuses == {"a": "OK", "b": "OK", "c": "STALE", "d": "OK", "e": "STALE"}
    assert (
        "ran with CPU numerics pinned, but openblas 0.3.30 (libscipy_openblas.so) chose SkylakeX kernels, "
        "not the pinned Haswell" in found["e"].reason
    )
    assert "made with CPU numerics {'ATEN_CPU_CAPABILITY': 'avx2', 'MKL_CBWR': None" in found["c"].reason
    assert "most jobs of the run with {'ATEN_CPU_CAPABILITY': 'avx2', 'MKL_CBWR': 'AVX2'" in found["c"].reason


def test_a_moved_workflow_is_audited_by_its_scripts_where_they_are_now(tmp_path):
    """A record names its rule script where the job ran it; after the checkout moved, the audit
    compares the script of the workflow it audits (the one Snakemake would run), not that path."""
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    scripts = tmp_path / "moved/workflow/scripts"
    scripts.mkdir(parents=True)
    manifest = {"artifacts": {}, "jobs": {}}
    for rule in ("table1", "table2"):
        script = scripts / f"{rule}.py"
        script.write_text(f"# {rule}\n")
        recorded_script = records.file_entry(script) | {"path": str(tmp_path / f"old/workflow/scripts/{rule}.py")}
        table = results / f"tables/{rule}.csv"
        table.write_text(f"{rule}\n")
        job = {"rule": rule, "outputs": [records.file_entry(table)], "inputs": [], "wildcards": {}, "end": "9999"}
        job.update(script=recorded_script, params={})
        manifest["artifacts"][str(table)], manifest["jobs"][rule] = rule, job
    (scripts / "table2.py").write_text("# table2, changed\n")
    found = {
        Path(f.artifact).stem: f for f in audit.check(manifest, results, script_now=lambda rule: scripts / f"{rule}.py")
    }
    assert {name: f.status for name, f in found.items()} == {"table1": "OK", "table2": "STALE"}
    assert found["table2"].reason == f"rule script {scripts / 'table2.py'} changed since"
    # where the recorded path is all there is, the moved script is not found there
    assert all(f.status == "STALE" for f in audit.check(manifest, results))


def test_an_artifact_whose_scripts_modules_changed_is_stale_naming_them(tmp_path):
    """A job's params hold one digest of its script's modules; its record holds each module's, which
    the audit compares with the modules now to name the ones that changed (or that it now imports)."""
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    manifest = {"artifacts": {}, "jobs": {}}
    recorded = {"gmnrep/paper/vocabulary.py": "a" * 64, "gmnrep/paper/accuracy_table.py": "b" * 64}
    now = {"gmnrep/paper/vocabulary.py": "a" * 64, "gmnrep/paper/accuracy_table.py": "c" * 64, "helper.py": "d" * 64}
    for name, rule in (("table1", "table1"), ("table2", "table2"), ("old", "table1")):
        table = results / f"tables/{name}.csv"
        table.write_text(f"{name}\n")
        job = {"rule": rule, "outputs": [records.file_entry(table)], "inputs": [], "wildcards": {}, "end": "9999"}
        job.update(script=records.file_entry(table), params={"code": code.code_digest(recorded)}, code=recorded)
        if name == "old":
            job["code"] = {}  # a record made before the modules' digests were recorded: nothing to compare
        manifest["artifacts"][str(table)], manifest["jobs"][name] = name, job
    found = audit.check(manifest, results, code_now=lambda rule: now if rule == "table1" else recorded)
    by_name = {Path(f.artifact).stem: f for f in found}
    assert {name: f.status for name, f in by_name.items()} == {"table1": "STALE", "table2": "OK", "old": "OK"}
    assert by_name["table1"].reason == (
        "code its script imports changed since: gmnrep/paper/accuracy_table.py, helper.py"
    )


def gmnrep_audit(repo: Path, workdir: Path, *extra: str, config: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "gmnrep.provenance.cli",
        "audit",
        "--snakefile",
        str(repo / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, preset_files("smoke", repo)),
        "--config",
        f"raw_dir={SMOKE_RAW_DIR}",
        *config,
        "--json",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def findings(proc) -> dict[str, dict]:
    return {f["artifact"]: f for f in json.loads(proc.stdout)["artifacts"]}


@pytest.fixture
def tampered(smoke_run, tmp_path):
    """The session's run, restored (dates and Snakemake's records included) after the test tampers
    with it: tampering happens in place, as the records name the run's own paths. A copy of the
    whole run (86 MB) takes a tenth of a second; listing what each test and the Snakemake runs it
    starts may change would be the fragile part."""
    backup = tmp_path / "backup"
    shutil.copytree(smoke_run.workdir, backup, symlinks=True)
    yield smoke_run.repo, smoke_run.workdir
    shutil.rmtree(smoke_run.workdir)
    shutil.copytree(backup, smoke_run.workdir, symlinks=True)


def test_audit_of_a_finished_run_reports_every_artifact_ok(smoke_run):
    repo, workdir = smoke_run.repo, smoke_run.workdir
    proc = gmnrep_audit(repo, workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and set(report["counts"]) == {"OK"}
    stages = {f["stage"] for f in report["artifacts"]}
    assert {"data", "inrs", "models", "activations", "cka", "figures", "tables"} <= stages
    assert len(report["artifacts"]) > 80
    manifest = json.loads((workdir / RESULTS / "audit/manifest.json").read_text())
    model = manifest["jobs"][manifest["artifacts"][f"{RESULTS}/models/digits/gmn/seed-0.pt"]]
    assert model["rule"] == "train_model" and model["wildcards"] == {"dataset": "digits", "arch": "gmn", "seed": "0"}
    assert {Path(i["path"]).name for i in model["inputs"]} == {"digits.h5", "shard-0.h5", "shard-1.h5"}
    assert model["params"]["settings"]["seed"] == 0 and len(model["params_hash"]) == 64
    # every job ran with CPU numerics pinned (config cpu_numerics), each library on its pinned kernels
    for job in manifest["jobs"].values():
        assert {k: v for k, v in job["numerics"].items() if k != "kernels"} == numerics.PINNED
        assert not any(numerics.Kernels(**k).escaped for k in job["numerics"]["kernels"]), job["numerics"]
    chosen = {k["library"].split()[0]: k["chosen"] for k in model["numerics"]["kernels"]}
    assert chosen["torch"] == "AVX2" and chosen["openblas"] == "Haswell" and chosen["numpy"] == "X86_V3"


def test_a_flipped_byte_in_a_shard_is_modified_and_everything_made_from_it_stale(tampered):
    repo, workdir = tampered
    shard = workdir / RESULTS / "inrs/digits/shard-0.h5"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    # the records alone find it (Snakemake's view of a run is in the tests around this one)
    proc = gmnrep_audit(repo, workdir, "--no-snakemake")
    assert proc.returncode == 1
    found = findings(proc)
    assert found[f"{RESULTS}/inrs/digits/shard-0.h5"]["status"] == "MODIFIED"
    model = found[f"{RESULTS}/models/digits/gmn/seed-0.pt"]
    assert model["status"] == "STALE" and f"input {RESULTS}/inrs/digits/shard-0.h5 changed since" in model["reason"]
    assert found[f"{RESULTS}/models/fashion_mnist/gmn/seed-0.pt"]["status"] == "OK"


def test_a_job_refuses_a_shard_changed_after_it_was_made_with_the_file_job_and_repair_named(tampered, smoke_run):
    # a finite weight changed, dates kept: nothing Snakemake or h5py could notice
    repo, workdir = tampered
    shard = workdir / RESULTS / "inrs/digits/shard-0.h5"
    before = shard.stat()
    with h5py.File(shard, "r") as f:
        offset = f["weights/1/W"].id.get_offset() + 4 * 100  # the lowest mantissa byte of one weight
    data = bytearray(shard.read_bytes())
    data[offset] ^= 0x01
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(before.st_atime_ns, before.st_mtime_ns))
    model = f"{RESULTS}/models/digits/gmn/seed-0.pt"
    proc = run([model, *smoke_run.args("--cores", "1", "--forcerun", model)], cwd=workdir, check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/smoke/models/digits/gmn/seed-0.log").read_text()
    assert f"{RESULTS}/inrs/digits/shard-0.h5: its sha256 is" in log
    assert "fit_inr_shard[dataset=digits,shard=0] recorded" in log
    assert f"Repair: snakemake --forcerun {RESULTS}/inrs/digits/shard-0.h5" in log
    assert "start: train" in log.splitlines()[0] and "FAILED" in log.splitlines()[-1]


def test_a_deleted_activation_dump_is_missing_and_its_cka_operands_stale(tampered):
    repo, workdir = tampered
    (workdir / RESULTS / "activations/digits/mlp/seed-0.h5").unlink()
    proc = gmnrep_audit(repo, workdir, "--stage", "activations", "--no-snakemake")
    assert proc.returncode == 1
    found = findings(proc)
    assert found[f"{RESULTS}/activations/digits/mlp/seed-0.h5"]["status"] == "MISSING"
    assert {f["status"] for a, f in found.items() if "mlp/seed-0" not in a} == {"OK"}
    operands = findings(gmnrep_audit(repo, workdir, "--stage", "cka", "--dataset", "digits", "--no-snakemake"))
    assert operands[f"{RESULTS}/cka/digits/operands/mlp-0.h5"]["status"] == "STALE"
    assert all(f["artifact"].startswith(f"{RESULTS}/cka/digits/") for f in operands.values())


def test_an_edited_cka_setting_makes_the_cka_stage_stale_as_snakemake_says(tampered):
    repo, workdir = tampered
    proc = gmnrep_audit(repo, workdir, config=("cka={'estimator': 'minibatch'}",))
    assert proc.returncode == 1, proc.stderr[-3000:]
    found = findings(proc)
    operands = found[f"{RESULTS}/cka/digits/operands/gmn-0.h5"]
    assert operands["status"] == "STALE" and "Params have changed since last execution" in operands["reason"]
    assert found[f"{RESULTS}/tables/table2.csv"]["status"] == "STALE"
    assert found[f"{RESULTS}/models/digits/gmn/seed-0.pt"]["status"] == "OK"
    assert found[f"{RESULTS}/activations/digits/gmn/seed-0.h5"]["status"] == "OK"


def test_a_changed_rule_script_makes_its_artifacts_stale(tampered):
    repo, workdir = tampered
    script = repo / "workflow/scripts/cka_pair.py"
    original = workdir.parent / "cka_pair.py.orig"
    shutil.copy2(script, original)
    script.write_text(script.read_text() + "# changed\n")
    try:
        proc = gmnrep_audit(repo, workdir, "--stage", "cka")
    finally:
        shutil.copy2(original, script)  # with its date: Snakemake judges scripts by modification time
    assert proc.returncode == 1
    found = findings(proc)
    pair = found[f"{RESULTS}/cka/digits/gmn-0__mlp-0.csv"]
    assert pair["status"] == "STALE"
    assert f"rule script {script} changed since" in pair["reason"]
    assert "Snakemake would recompute it: Code has changed since last execution" in pair["reason"]
    assert found[f"{RESULTS}/cka/digits/operands/gmn-0.h5"]["status"] == "OK"


def test_audit_is_also_a_snakemake_target(smoke_run):
    workdir = smoke_run.workdir
    proc = run(smoke_run.args("--cores", "1", "audit"), cwd=workdir)
    log = (workdir / "logs/smoke/audit/audit.log").read_text()
    assert "artifacts:" in log and "STALE" not in log and "MISSING" not in log, log[-3000:]
    assert proc.returncode == 0


def test_the_manifest_summary_counts_every_stage(smoke_run):
    """The table the report shows under "Audit" (the report itself: tests/test_workflow.py)."""
    summary = (smoke_run.workdir / RESULTS / "audit/summary.csv").read_text().splitlines()
    assert summary[0].startswith("stage,artifacts,jobs,bytes,git_commits")
    assert [line.split(",")[0] for line in summary[1:8]] == list(audit.STAGES)
