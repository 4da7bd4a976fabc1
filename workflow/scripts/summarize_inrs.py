from pathlib import Path

from gmnrep.inr import shards
from snakemake_job import recorded

with recorded(snakemake, f"summarize {snakemake.output.summary}"):
    shards.write_summary(
        [Path(p) for p in snakemake.input.shards],
        Path(snakemake.output.summary),
        snakemake.params.target_psnr,
        statistics_output=Path(snakemake.output.statistics),
        reference_set=snakemake.params.reference_set,
    )
