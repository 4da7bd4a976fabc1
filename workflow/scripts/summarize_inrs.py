from pathlib import Path

from gmnrep import shards
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"summarize {snakemake.output[0]}"):
    shards.write_summary(
        [Path(p) for p in snakemake.input], Path(snakemake.output[0]), snakemake.params.target_psnr
    )
