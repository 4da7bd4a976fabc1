"""The `gmnrep` command. `gmnrep audit` checks every artifact of a run against its provenance
record and Snakemake's own verdict; run it where you run Snakemake, with the same config options:

    gmnrep audit                                  # paper scale
    gmnrep audit --config preset=demo             # a preset
    gmnrep audit --stage cka --dataset mnist      # a part of it
    gmnrep audit --json                           # for machines

Exit status: 0 when every artifact is OK, 1 when one is missing, modified or stale, 2 on bad usage.
"""

import argparse
import os
import sys
from pathlib import Path

import yaml

from . import audit, provenance
from .config import deep_merge, resolve
from .errors import GmnrepError


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
    check.add_argument("--configfile", action="append", help="as for Snakemake (default: config.yaml in --directory)")
    check.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="as for Snakemake")
    check.add_argument("--directory", default=".", help="the working directory of the run (default: .)")
    check.add_argument("--dataset", help="only artifacts of this dataset")
    check.add_argument("--stage", choices=audit.STAGES, help="only artifacts of this stage")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--no-snakemake", action="store_true", help="skip Snakemake's verdict (faster; records only)")
    return parser


def run_audit(args) -> list[audit.Finding]:
    snakefile = Path(args.snakefile).resolve()
    if not snakefile.is_file():
        raise GmnrepError(f"{snakefile}: no Snakefile (run from the repository root, or give --snakefile)")
    configfiles = [Path(p).resolve() for p in (args.configfile or [Path(args.directory) / "config.yaml"])]
    overrides = _overrides(args.config)
    config = {}
    for path in configfiles:
        config = deep_merge(config, yaml.safe_load(path.read_text()) or {})
    config = resolve(deep_merge(config, overrides), snakefile.parent / "workflow/schemas/config.schema.yaml", overrides)
    os.chdir(args.directory)
    audit_dir = Path(config["results"]) / "audit"
    if not (audit_dir / "jobs").is_dir():
        raise GmnrepError(f"{audit_dir}/jobs: no provenance records (has this preset been run here?)")
    manifest = provenance.write_manifest(audit_dir)
    reasons = None
    if not args.no_snakemake:
        command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--configfile", *map(str, configfiles)]
        command += ["--config", *args.config] if args.config else []
        reasons = audit.snakemake_reasons(command, Path.cwd())
    findings = audit.check(manifest, Path(config["results"]), reasons)
    return audit.select(findings, args.dataset, args.stage)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        findings = run_audit(args)
    except GmnrepError as exc:
        print(f"gmnrep audit: {exc}", file=sys.stderr)
        return 2
    audit.print_report(findings, args.json)
    return 1 if audit.failed(findings) else 0


if __name__ == "__main__":
    sys.exit(main())
