from pathlib import Path

from gmnrep.paper import similarity_table
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"table {snakemake.output.csv}"):
    similarity_table.write_similarity_table(
        by_dataset(snakemake, "tables"),
        by_dataset(snakemake, "dumps"),
        by_dataset(snakemake, "chance"),
        list(snakemake.params.layers),
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
        snakemake.params.deepest,
    )
