"""What makes Snakemake and `gmnrep audit` rerun a job: its settings by value, however the config
files were layered, and the code its script imports by content, for exactly the jobs that run it.
The params compared are those Snakemake itself would store (tests/snakemake_jobs.py)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PRESETS, REPO, SMOKE_RAW_DIR, jobs_of, preset_files, read_jobs, run, smoke_args, user_directory
from gmnrep.provenance import audit, code


def reversed_keys(values):
    """`values` with every mapping's keys in reverse order: the same settings, stated otherwise."""
    if isinstance(values, dict):
        return {key: reversed_keys(values[key]) for key in reversed(list(values))}
    return values


def restated(preset: str, path: Path) -> Path:
    """A config file that restates the preset's own file (config.yaml for paper), keys reversed."""
    source = preset_files(preset)[-1]
    path.write_text(yaml.safe_dump(reversed_keys(yaml.safe_load(source.read_text())), sort_keys=False))
    return path


def params(jobs: dict[str, dict]) -> dict[str, list]:
    return {job: values["params"] for job, values in jobs.items()}


@pytest.mark.parametrize("preset", PRESETS)
def test_every_job_gets_the_same_params_however_the_presets_settings_are_layered(preset, preset_jobs, tmp_path):
    """The preset's files named alone (config.yaml from the Snakefile), as the documented commands
    do, against two other ways of stating the same settings."""
    workdir = user_directory(tmp_path / "run")
    own = preset_files(preset)[1:]
    results = yaml.safe_load(preset_files(preset)[-1].read_text())["results"]
    ways = {
        "config.yaml given explicitly": jobs_of(workdir, [REPO / "config.yaml", *own]),
        "a further file restating the preset, keys reversed, and --config restating a value": jobs_of(
            workdir, [*own, restated(preset, tmp_path / "restated.yaml")], {"results": results}
        ),
    }
    reference = params(preset_jobs(preset))
    assert len(reference) > 20 and any(job.startswith("train_model") for job in reference)
    for way, proc in ways.items():
        jobs = params(read_jobs(proc))
        assert jobs.keys() == reference.keys(), way
        differing = [job for job in jobs if jobs[job] != reference[job]]
        assert not differing, f"{way}: params differ for {len(differing)} jobs, e.g. {differing[0]}"


def test_a_changed_value_changes_the_params_of_exactly_the_jobs_that_use_it(preset_jobs, tmp_path):
    """The comparison above can fail: one setting changed is seen, and only where it is used."""
    changed = tmp_path / "changed.yaml"
    changed.write_text("models: {cnn: {training: {epochs: 3}}}\n")
    after = params(read_jobs(jobs_of(user_directory(tmp_path / "run"), [*preset_files("smoke")[1:], changed])))
    before = params(preset_jobs("smoke"))
    differing = {job for job in before if before[job] != after[job]}
    # the CNNs and their accuracy-matched twins, which train as they do: two datasets, two seeds each
    cnns = {job for job in differing if job.startswith("train_model") and "'arch': 'cnn'" in job}
    twins = {job for job in differing if job.startswith("train_matched") and "'arch': 'cnnmatch'" in job}
    assert differing == cnns | twins and len(cnns) == len(twins) == 2 * 2


def test_a_code_digest_ignores_comments_docstrings_and_layout_but_not_code(tmp_path):
    module = tmp_path / "m.py"
    digest = {}
    versions = {
        "original": "def f(x):\n    return x + 1\n",
        "comments and docstring": (
            '"""Module."""\n\n# why\ndef f(x):  # f\n    """Add one."""\n\n    return (x +\n            1)\n'
        ),
        "a value": "def f(x):\n    return x + 2\n",
        "a name": "def f(y):\n    return y + 1\n",
    }
    for name, source in versions.items():
        module.write_text(source)
        digest[name] = code.module_digest(module)
    assert digest["comments and docstring"] == digest["original"]
    assert len({digest["original"], digest["a value"], digest["a name"]}) == 3


def test_a_modules_parse_is_kept_on_disk_and_an_unreadable_entry_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    module = tmp_path / "m.py"
    module.write_text('"""Doc."""\nimport os\nfrom .a import b\n\ndef f(x):\n    return x + 1\n')
    parsed = code._parse_module(module.read_bytes())
    code._read_module.cache_clear()  # this process's own memory of parses: each step below reads the disk
    assert code.module_digest(module) == parsed.digest
    (entry,) = code.cache_folder().glob("*.json")
    assert json.loads(entry.read_text()) == {"digest": parsed.digest, "imports": [[0, "os", []], [1, "a", ["b"]]]}
    entry.write_text(json.dumps({"digest": "kept", "imports": []}))
    code._read_module.cache_clear()
    assert code.module_digest(module) == "kept", "the entry on disk was not read"
    for unreadable in ('{"digest": "kept"', '{"imports": []}', "[]"):
        entry.write_text(unreadable)
        code._read_module.cache_clear()
        assert code.module_digest(module) == parsed.digest, unreadable
        assert json.loads(entry.read_text())["digest"] == parsed.digest
    assert [path.name for path in entry.parent.iterdir()] == [entry.name]
    (tmp_path / "a file").touch()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a file"))  # a folder that cannot be made
    code._read_module.cache_clear()
    assert code.module_digest(module) == parsed.digest


def test_the_code_of_a_script_is_every_module_it_imports_through_the_roots(tmp_path):
    library = tmp_path / "src"
    files = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/a.py": "from . import b\nimport json\n",
        "pkg/sub/b.py": "def g():\n    from ..c import h\n    return h\n",
        "pkg/c.py": "h = 1\n",
        "pkg/unused.py": "",
        "../helpers/helper.py": "",
    }
    for name, text in files.items():
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        (library / name).write_text(text)
    script = tmp_path / "script.py"
    script.write_text("from pkg.sub.a import b\nimport helper\n")
    roots = [library, tmp_path / "helpers"]
    found = code.code_digests(script, roots)
    assert list(found) == [
        "helper.py",
        "pkg/__init__.py",
        "pkg/c.py",
        "pkg/sub/__init__.py",
        "pkg/sub/a.py",
        "pkg/sub/b.py",
    ]
    (library / "pkg/c.py").write_text("h = 2\n")
    assert code.changed_modules(found, code.code_digests(script, roots)) == ["pkg/c.py"]


def test_each_rule_script_is_given_the_library_modules_it_runs():
    scripts = REPO / "workflow/scripts"
    claims, training = (code.script_code(scripts / f"{rule}.py", REPO / "src") for rule in ("claims", "train_model"))
    assert "gmnrep/paper/claims.py" in claims and "gmnrep/paper/claims.py" not in training
    assert {"gmnrep/models/training.py", "gmnrep/models/gmn.py", "snakemake_job.py", "training_job.py"} <= set(training)


# Imports follow what a job uses. A table or figure that reads no CKA (Table 1, the INR figure, the
# training curves, Figure 4, the report's first page) imports no CKA code; what reads INR shards or
# their summary imports no fitter (nor torch); the tables' mean ± std is not the claims' statistics.
EDITS_AND_RULES = {
    "representations/cka.py": {"prepare_cka", "cka_pair", "cka_figure", "table2", "claims", "family_comparison"},
    "inr/fitting.py": {"fit_inr_shard"},
    "paper/statistics.py": {"claims"},
}


@pytest.mark.parametrize("edited", EDITS_AND_RULES)
def test_a_library_edit_changes_the_code_digest_of_exactly_the_rules_that_run_it(edited, tmp_path):
    for folder in ("src", "workflow/scripts"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    scripts = sorted((tmp_path / "workflow/scripts").glob("*.py"))

    def digests() -> dict[str, str]:
        return {script.stem: code.code_digest(code.script_code(script, tmp_path / "src")) for script in scripts}

    before = digests()
    module = tmp_path / "src/gmnrep" / edited
    module.write_text(module.read_text() + "\n_EDITED = True\n")
    after = digests()
    assert {rule for rule in before if before[rule] != after[rule]} == EDITS_AND_RULES[edited]


def test_every_jobs_params_hold_one_code_digest(preset_jobs):
    """Snakemake prints a job's changed params, before and now, in the reason of a dry run: one
    digest of the script's modules, not each module's (those are in the job's record)."""
    jobs = params(preset_jobs("smoke"))
    coded = {job: values for job, values in jobs.items() if values}
    assert set(jobs) - set(coded) == {"all{}"}  # the target rule alone has no params
    for job, values in coded.items():
        assert sum(re.fullmatch(r"'[0-9a-f]{64}'", value) is not None for value in values) == 1, job
        assert not any(".py" in value for value in values), job


# --- end to end ---------------------------------------------------------------------------------


def dry_run(args: list[str], cwd: Path) -> str:
    """The standard output of a dry run with `args`, which names each job it would run and why."""
    return run([*args, "--dry-run", "--nolock"], cwd).stdout


def dry_run_outputs(args: list[str], cwd: Path) -> dict[str, str]:
    """Each output a dry run with `args` would (re)make -> the job's reason, as the audit reads them."""
    return audit.dry_run_reasons(dry_run(args, cwd))


def test_a_library_edit_replans_exactly_the_jobs_whose_scripts_import_it(smoke_run, tmp_path):
    """On a copy of the smoke run and its workflow: a comment changes nothing; a code change in
    gmnrep/paper/claims.py replans the claims job and what Snakemake runs after it, and nothing
    else, each job's reason a line a person reads (one code digest before and now); the audit calls
    exactly those artifacts STALE and names the module."""
    repo = tmp_path / "repo"
    shutil.copytree(smoke_run.repo, repo, symlinks=True)  # dates kept: Snakemake judges scripts by them
    workdir = smoke_run.copy(tmp_path / "run")
    args = smoke_args(workdir, repo=repo)
    module = repo / "src/gmnrep/paper/claims.py"
    module.write_text(module.read_text() + "\n# a comment on the claims\n")
    assert dry_run_outputs(args, workdir) == {}
    module.write_text(module.read_text() + "_EDITED = True\n")
    planned = dry_run(args, workdir)
    replanned = audit.dry_run_reasons(planned)
    claims = {f"results/smoke/tables/claims.{ext}" for ext in ("csv", "md", "tex")} | {
        "results/smoke/tables/findings.md"
    }
    # the report's first page reads claims.csv, which is remade
    downstream = {"results/smoke/report/overview.rst"}
    assert {output for output, reason in replanned.items() if "Params have changed" in reason} == claims
    assert set(replanned) - claims - downstream <= {
        "results/smoke/audit/manifest.json",
        "results/smoke/audit/summary.csv",
    }
    assert max(len(line) for line in planned.splitlines() if line.strip().startswith("reason:")) < 400

    proc = subprocess.run(
        [sys.executable, "-m", "gmnrep.provenance.cli", "audit", "--snakefile", str(repo / "Snakefile")]
        + ["--directory", str(workdir), "--configfile", *map(str, preset_files("smoke", repo))]
        + ["--config", f"raw_dir={SMOKE_RAW_DIR}", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    stale = {f["artifact"]: f["reason"] for f in json.loads(proc.stdout)["artifacts"] if f["status"] != "OK"}
    assert set(stale) == claims | downstream
    assert all("code its script imports changed since: gmnrep/paper/claims.py" in stale[output] for output in claims)
    assert all("Snakemake would recompute it" in stale[output] for output in downstream)


@pytest.mark.e2e
def test_a_finished_run_audits_ok_and_plans_nothing_as_the_user_layers_it(smoke_run, tmp_path):
    """The session's smoke run was made with config.yaml named before the preset. In a copy with
    config.yaml at its root, as in a user's checkout, the documented commands name the preset alone
    (config.yaml then comes from the Snakefile, after it): the audit finds every artifact OK, and a
    dry run plans nothing, also with a value restated by --config."""
    workdir = smoke_run.copy(tmp_path / "run")
    (workdir / "config.yaml").symlink_to(smoke_run.repo / "config.yaml")
    preset = ["--configfile", str(smoke_run.repo / "presets/smoke.yaml"), "--config", f"raw_dir={SMOKE_RAW_DIR}"]
    workflow = ["--snakefile", str(smoke_run.repo / "Snakefile"), "--directory", str(workdir)]
    audited = subprocess.run(
        [sys.executable, "-m", "gmnrep.provenance.cli", "audit", *workflow, *preset],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = audited.stdout.strip().splitlines()[-1]
    assert audited.returncode == 0 and summary.endswith(" OK") and "STALE" not in summary, audited.stdout[-3000:]
    for layering in (preset, [*preset, "results=results/smoke"]):
        assert dry_run_outputs([*workflow, *layering], workdir) == {}, layering
