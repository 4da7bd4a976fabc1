from pathlib import Path

from gmnrep.paper import cka_figure
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"figure {snakemake.output[0]}"):
    cka_figure.cka_figure(
        by_dataset(snakemake, "tables"),
        list(snakemake.params.layers),
        Path(snakemake.output[0]),
        snakemake.params.deepest,
    )
