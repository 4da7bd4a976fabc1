from pathlib import Path

from gmnrep.core.joblog import job_log
from gmnrep.provenance import audit, records

with job_log(snakemake.log[0], f"gather {snakemake.output.manifest}"):
    manifest = records.write_manifest(Path(snakemake.output.manifest).parent)
    rows = audit.summary_rows(manifest, Path(snakemake.config["results"]))
    audit.write_summary(Path(snakemake.output.summary), rows)
    print(f"{len(manifest['artifacts'])} artifacts from {len(manifest['jobs'])} jobs")
