from pathlib import Path

from gmnrep import tables
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"table {snakemake.output.csv}"):
    tables.write_accuracy_table(
        [Path(p) for p in snakemake.input],
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
    )
