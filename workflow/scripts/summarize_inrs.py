from pathlib import Path

from gmnrep import shards
from snakemake_job import recorded

with recorded(snakemake, f"summarize {snakemake.output[0]}"):
    shards.write_summary(
        [Path(p) for p in snakemake.input], Path(snakemake.output[0]), snakemake.params.target_psnr
    )
