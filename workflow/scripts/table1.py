from pathlib import Path

from gmnrep.paper import accuracy_table
from snakemake_job import recorded

with recorded(snakemake, f"table {snakemake.output.csv}"):
    accuracy_table.write_accuracy_table(
        [Path(p) for p in snakemake.input.metrics],
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
    )
