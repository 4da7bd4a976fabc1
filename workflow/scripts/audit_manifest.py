from pathlib import Path

from gmnrep import audit, provenance
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"gather {snakemake.output.manifest}"):
    manifest = provenance.write_manifest(Path(snakemake.output.manifest).parent)
    rows = audit.summary_rows(manifest, Path(snakemake.config["results"]))
    audit.write_summary(Path(snakemake.output.summary), rows)
    print(f"{len(manifest['artifacts'])} artifacts from {len(manifest['jobs'])} jobs")
