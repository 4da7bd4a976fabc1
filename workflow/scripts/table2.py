from pathlib import Path

from gmnrep import tables
from gmnrep.runlog import job_log

settings = snakemake.params.settings
with job_log(snakemake.log[0], f"table {snakemake.output.csv}"):
    tables.write_similarity_table(
        {d: [Path(p) for p in paths] for d, paths in settings["tables"].items()},
        {d: [Path(p) for p in paths] for d, paths in settings["dumps"].items()},
        list(settings["layers"]),
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
    )
