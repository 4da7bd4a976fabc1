from pathlib import Path

from gmnrep.paper import sample_figure
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"figure {snakemake.output.figure}"):
    sample_figure.sample_figure(
        by_dataset(snakemake, "dumps"),
        {dataset: data for dataset, (data,) in by_dataset(snakemake, "data").items()},
        by_dataset(snakemake, "shards"),
        Path(snakemake.output.figure),
        Path(snakemake.output.counts),
        snakemake.params.examples,
    )
