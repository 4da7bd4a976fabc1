"""What every rule script runs in: its log under logs/, its inputs verified against the records of
the jobs that made them and, once it has succeeded, its provenance record under
{results}/audit/jobs/ (see gmnrep.provenance). The one place that reads Snakemake's `snakemake`
object for that; each rule's script is named after its rule."""

from pathlib import Path

from gmnrep.provenance import recorded_job


def recorded(snakemake, title: str):
    return recorded_job(
        rule=snakemake.rule,
        wildcards=dict(snakemake.wildcards.items()),
        inputs=[Path(p) for p in snakemake.input],
        outputs=[Path(p) for p in snakemake.output],
        params=dict(snakemake.params.items()),
        script=Path(snakemake.scriptdir).resolve() / f"{snakemake.rule}.py",
        log=Path(snakemake.log[0]),
        title=title,
        audit_dir=Path(snakemake.config["results"]) / "audit",
        workflow_roots=[Path(snakemake.config["results"]), Path(snakemake.config["raw_dir"])],
    )
