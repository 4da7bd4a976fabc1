from pathlib import Path

from gmnrep.paper import inr_figure
from snakemake_job import recorded

with recorded(snakemake, f"INR figure {snakemake.output[0]}"):
    inr_figure.inr_figure(
        snakemake.wildcards.dataset,
        Path(snakemake.input.data),
        [Path(p) for p in snakemake.input.shards],
        snakemake.params.target_psnr,
        snakemake.params.examples,
        Path(snakemake.output[0]),
    )
