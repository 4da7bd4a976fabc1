from pathlib import Path

from gmnrep.paper import family_comparison
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"figure {snakemake.output.figure}"):
    family_comparison.write_family_comparison(
        by_dataset(snakemake, "tables"),
        [Path(p) for p in snakemake.input.metrics],
        list(snakemake.params.layers),
        Path(snakemake.output.figure),
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
        snakemake.params.deepest,
    )
