"""What every rule script runs in: its log under logs/, its inputs verified against the records of
the jobs that made them and, once it has succeeded, its provenance record under
{results}/audit/jobs/ (see gmnrep.provenance.records). The one place that reads Snakemake's `snakemake`
object for that; each rule's script is named after its rule."""

from pathlib import Path

from gmnrep.provenance.code import script_code
from gmnrep.provenance.records import recorded_job


def by_dataset(snakemake, kind: str) -> dict[str, list[Path]]:
    """The named inputs `{kind}__{dataset}` of the rule (common.smk's per_dataset), by dataset."""
    prefix = f"{kind}__"
    grouped = {}
    for name, files in snakemake.input.items():
        if name.startswith(prefix):
            grouped[name.removeprefix(prefix)] = [Path(p) for p in ([files] if isinstance(files, str) else files)]
    return grouped


def recorded(snakemake, title: str):
    script = Path(snakemake.scriptdir).resolve() / f"{snakemake.rule}.py"
    return recorded_job(
        rule=snakemake.rule,
        wildcards=dict(snakemake.wildcards.items()),
        inputs=[Path(p) for p in snakemake.input],
        outputs=[Path(p) for p in snakemake.output],
        params=dict(snakemake.params.items()),
        # the library of the workflow the script belongs to, as common.smk's code_of reads it
        code=script_code(script, script.parents[2] / "src"),
        script=script,
        log=Path(snakemake.log[0]),
        title=title,
        audit_dir=Path(snakemake.config["results"]) / "audit",
        workflow_roots=[Path(snakemake.config["results"]), Path(snakemake.config["raw_dir"])],
    )
