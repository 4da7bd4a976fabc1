from pathlib import Path

import torch

from gmnrep import shards
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"fit {snakemake.output[0]}"):
    torch.set_num_threads(snakemake.threads)
    shards.fit_shard(
        Path(snakemake.input[0]),
        Path(snakemake.output[0]),
        int(snakemake.wildcards.shard),
        **snakemake.params.settings,
    )
