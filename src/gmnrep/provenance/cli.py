"""The `gmnrep` command. `gmnrep audit` checks every artifact of a run against its provenance
record and Snakemake's own verdict; run it where you run Snakemake, with the same config options:

    gmnrep audit                                  # paper scale
    gmnrep audit --configfile presets/demo.yaml   # a preset
    gmnrep audit --stage cka --dataset mnist      # a part of it
    gmnrep audit --json                           # for machines

Exit status: 0 when every artifact is OK, 1 when one is missing, modified or stale, 2 on bad usage.

`gmnrep findings CLAIMS_CSV README` rewrites README's "What this run found" (between the markers
FINDINGS_BEGIN and FINDINGS_END) from a claims table, so the README never states numbers by hand.
"""

import argparse
import os
import sys
from pathlib import Path

import yaml

from gmnrep.config import layered, resolve
from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError, GmnrepError
from gmnrep.paper import claims
from gmnrep.provenance import audit, code, records

FINDINGS_BEGIN, FINDINGS_END = "<!-- findings: begin -->", "<!-- findings: end -->"


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
    findings = commands.add_parser("findings", help="write a claims table into README's findings section")
    findings.add_argument("claims", type=Path, help="a claims table (results/<preset>/tables/claims.csv)")
    findings.add_argument("readme", type=Path, help="the README whose section between the findings markers is replaced")
    return parser


def splice_findings(readme: str, findings: str) -> str:
    """`readme` with the text between its findings markers replaced by `findings`."""
    begin, end = readme.find(FINDINGS_BEGIN), readme.find(FINDINGS_END)
    if begin < 0 or end < begin:
        raise DataError(f"the README has no section between {FINDINGS_BEGIN} and {FINDINGS_END}")
    start = begin + len(FINDINGS_BEGIN)
    return readme[:start] + "\n" + findings.rstrip("\n") + "\n" + readme[end:]


def write_findings(args) -> None:
    rows = claims.read_claims(args.claims)
    text = splice_findings(args.readme.read_text(), claims.findings_markdown(rows, str(args.claims)))
    with atomic_path(args.readme) as tmp:
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
    scripts = snakefile.parent / "workflow/scripts"

    def code_now(rule: str) -> dict[str, str]:
        # as the workflow gives it to the rule's jobs (common.smk's code_of)
        return code.code_digests(scripts / f"{rule}.py", [snakefile.parent / "src", scripts])

    findings = audit.check(manifest, Path(config["results"]), reasons, code_now)
    return audit.select(findings, args.dataset, args.stage)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "findings":
            write_findings(args)
            return 0
        findings = run_audit(args)
    except GmnrepError as exc:
        print(f"gmnrep {args.command}: {exc}", file=sys.stderr)
        return 2
    audit.print_report(findings, args.json)
    return 1 if audit.failed(findings) else 0


if __name__ == "__main__":
    sys.exit(main())
