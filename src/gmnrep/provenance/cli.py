"""The `gmnrep` command. `gmnrep audit` checks every artifact of a run against its provenance
record and Snakemake's own verdict; run it where you run Snakemake, with the same config options:

    gmnrep audit                                  # paper scale
    gmnrep audit --configfile presets/demo.yaml   # a preset
    gmnrep audit --stage cka --dataset mnist      # a part of it
    gmnrep audit --json                           # for machines

Exit status: 0 when every artifact is OK, 1 when one is missing, modified or stale, 2 on bad usage.

`gmnrep findings CLAIMS_CSV PAGE` writes the results page (docs/results.md) from a run's claims table
and the provenance record of the job that wrote it, so that no document states a verdict by hand
and the page says which run its verdicts are of.

`gmnrep export-inrs --dataset fashion_mnist FOLDER results/fmnist/inrs/fashion_mnist/shard-*.h5`
writes a dataset's INR shards (every shard of the set) into the new folder FOLDER as an INR set in
the neural-graphs / ScaleGMN layout (gmnrep.inr.export), for the reference metanetworks and other
weight-space tools.
"""

import argparse
import functools
import os
import sys
from pathlib import Path

import yaml

from gmnrep.config import layered, resolve
from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError, GmnrepError
from gmnrep.core.hashing import sha256_file
from gmnrep.core.numerics import PINNED
from gmnrep.data.sources import SOURCES
from gmnrep.paper import claims_table
from gmnrep.provenance import audit, code, job_kernels, records


def _overrides(pairs: list[str]) -> dict:
    """`--config KEY=VALUE ...`, values read as YAML (as Snakemake reads them)."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise GmnrepError(f"--config {pair!r}: expected KEY=VALUE")
        values[key] = yaml.safe_load(value)
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gmnrep", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("audit", help="check every artifact against its provenance record")
    check.add_argument("--snakefile", default="Snakefile", help="the workflow (default: ./Snakefile)")
    check.add_argument(
        "--configfile",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="as for Snakemake: layered over config.yaml of --directory, e.g. presets/demo.yaml",
    )
    check.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="as for Snakemake")
    check.add_argument("--directory", default=".", help="the working directory of the run (default: .)")
    check.add_argument("--dataset", help="only artifacts of this dataset")
    check.add_argument("--stage", choices=audit.STAGES, help="only artifacts of this stage")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--no-snakemake", action="store_true", help="skip Snakemake's verdict (faster; records only)")
    findings = commands.add_parser("findings", help="write the results page from a run's claims table")
    findings.add_argument("claims", type=Path, help="a claims table (results/<preset>/tables/claims.csv)")
    findings.add_argument("page", type=Path, help="the page to write (docs/results.md)")
    commands.add_parser(
        "numerics",
        help="which kernels a job's numerical libraries run on this machine, native and pinned; "
        "fails if one escaped its pin",
    )
    export = commands.add_parser(
        "export-inrs",
        help="write a dataset's INR shards as an INR set in the neural-graphs / ScaleGMN layout "
        "(splits.json, {train,test}/model_<i>.pth)",
    )
    export.add_argument(
        "--dataset",
        required=True,
        choices=sorted(SOURCES),
        help="the dataset the INRs are of (its official training images number the train/ files)",
    )
    export.add_argument("output", type=Path, help="the folder to write: new, or empty")
    export.add_argument(
        "shards",
        type=Path,
        nargs="+",
        help="every shard of the dataset, e.g. results/fmnist/inrs/fashion_mnist/shard-*.h5",
    )
    return parser


def check_numerics() -> int:
    """Print the kernel table of a job started natively and pinned; 1 if a pinned library escaped."""
    pinned = job_kernels.job_kernels(job_kernels.job_environment(pinned=True))
    native = job_kernels.job_kernels(job_kernels.job_environment(pinned=False))
    print(f"CPU numerics of a job on {records.cpu_model()} (the libraries of {', '.join(job_kernels.JOB_MODULES)}):\n")
    print(job_kernels.kernel_table(native, pinned))
    escaped = [k.library for k in pinned if k.escaped]
    print(f"\nescaped their pins: {', '.join(escaped)}" if escaped else "\nevery library runs its pinned kernels")
    return 1 if escaped else 0


def claims_job_record(claims_path: Path) -> records.JobRecord:
    """The provenance record of the job that wrote `claims_path`, in its run's audit folder (the
    results root holds both tables/ and audit/); refused when the table's bytes are not those the
    job recorded, since the page would then name a run its verdicts are not of."""
    record_file = records.record_path(claims_path.parent.parent / "audit", "claims", {})
    if not record_file.is_file():
        raise DataError(f"{record_file}: no provenance record of the job that wrote {claims_path}")
    record = records.read_record(record_file)
    sha256 = sha256_file(claims_path)
    if not any(Path(out["path"]).name == claims_path.name and out["sha256"] == sha256 for out in record.outputs):
        raise DataError(f"{claims_path}: not the bytes its job recorded in {record_file}")
    return record


def numerics_name(numerics: dict) -> str:
    """A job's CPU numerics as config `cpu_numerics` names them."""
    if not numerics:
        return "not recorded"
    used = {name: numerics.get(name) for name in PINNED}
    if used == PINNED:
        return "pinned"
    if not any(used.values()):
        return "native"
    return ", ".join(f"{name}={value}" for name, value in used.items())


def results_page(claims_path: Path, page: Path) -> str:
    """The results page: the command that wrote it, the run its claims table comes from (commit,
    CPU numerics, CPU, when the claims job ended), then each claim's verdict and the table."""
    record = claims_job_record(claims_path)
    rows = claims_table.read_claims(claims_path)
    commit = "not a git checkout"
    if record.git:
        commit = f"`{record.git['commit'][:7]}`" + (" with uncommitted changes" if record.git["dirty"] else "")
    ended = record.end[:16].replace("T", " ")
    header = [
        "# Results",
        "",
        f"Written by `gmnrep findings {claims_path} {page}` from the claims table of the run below; run",
        "it again after a new run rather than editing this page. How each claim is tested and what each",
        'verdict means: docs/science.md, "Claims and verdicts". Rows whose comparison names "(matched)"',
        "test the claim against image networks trained to the GMNs' accuracy.",
        "",
        "| claims table | commit | CPU numerics | CPU | claims job ended (UTC) |",
        "|---|---|---|---|---|",
        f"| `{claims_path}` | {commit} | {numerics_name(record.numerics)} | {record.hardware['cpu']} | {ended} |",
        "",
    ]
    return "\n".join(header) + "\n" + claims_table.findings_markdown(rows, str(claims_path))


def export_inrs(args) -> None:
    # imported here: torch, which the export needs, would slow every other command's start
    from gmnrep.inr.export import export_neural_graphs

    counts = export_neural_graphs(args.shards, args.output, SOURCES[args.dataset].num_official_train)
    split_counts = ", ".join(f"{n} {name}" for name, n in counts.items())
    print(f"{args.output}: {sum(counts.values())} INRs of {args.dataset} ({split_counts}) in the neural-graphs layout")


def write_results_page(args) -> None:
    text = results_page(args.claims, args.page)
    with atomic_path(args.page) as tmp:
        tmp.write_text(text)


def run_audit(args) -> list[audit.Finding]:
    snakefile = Path(args.snakefile).resolve()
    if not snakefile.is_file():
        raise GmnrepError(f"{snakefile}: no Snakefile (run from the repository root, or give --snakefile)")
    # As Snakemake: the Snakefile's config.yaml (in the working directory), then each --configfile.
    default = Path(args.directory) / "config.yaml"
    configfiles = [p.resolve() for p in ([default] if default.is_file() else []) + [Path(p) for p in args.configfile]]
    if not configfiles:
        raise GmnrepError(f"no config.yaml in {args.directory} and no --configfile: which run should be audited?")
    overrides = _overrides(args.config)
    config = resolve(
        layered(configfiles, overrides), snakefile.parent / "workflow/schemas/config.schema.yaml", overrides
    )
    user_configfiles = [str(Path(p).resolve()) for p in args.configfile]
    os.chdir(args.directory)
    audit_dir = Path(config["results"]) / "audit"
    if not (audit_dir / "jobs").is_dir():
        raise GmnrepError(f"{audit_dir}/jobs: no provenance records (has this preset been run here?)")
    manifest = records.write_manifest(audit_dir)
    reasons = None
    if not args.no_snakemake:
        # the question the user's own command asks: their config files and values, nothing added
        command = [sys.executable, "-m", "snakemake", "-s", str(snakefile)]
        command += ["--configfile", *user_configfiles] if user_configfiles else []
        command += ["--config", *args.config] if args.config else []
        reasons = audit.snakemake_reasons(command, Path.cwd())

    def script_now(rule: str) -> Path:
        return snakefile.parent / "workflow/scripts" / f"{rule}.py"

    @functools.cache  # once per rule, not per artifact
    def code_now(rule: str) -> dict[str, str]:
        # as the rule's jobs record it (workflow/scripts/snakemake_job.py)
        return code.script_code(script_now(rule), snakefile.parent / "src")

    findings = audit.check(manifest, Path(config["results"]), reasons, code_now, script_now)
    return audit.select(findings, args.dataset, args.stage)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "numerics":
            return check_numerics()
        if args.command == "findings":
            write_results_page(args)
            return 0
        if args.command == "export-inrs":
            export_inrs(args)
            return 0
        findings = run_audit(args)
    except GmnrepError as exc:
        print(f"gmnrep {args.command}: {exc}", file=sys.stderr)
        return 2
    audit.print_report(findings, args.json)
    return 1 if audit.failed(findings) else 0


if __name__ == "__main__":
    sys.exit(main())
