from pathlib import Path

from gmnrep import figures
from snakemake_job import recorded

with recorded(snakemake, f"figure {snakemake.output[0]}"):
    figures.cka_figure(
        {d: [Path(p) for p in paths] for d, paths in snakemake.params.tables.items()},
        list(snakemake.params.layers),
        Path(snakemake.output[0]),
    )
