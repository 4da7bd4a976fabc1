from pathlib import Path

import torch

from gmnrep.inr import shard_fitting
from snakemake_job import recorded

with recorded(snakemake, f"fit {snakemake.output[0]}"):
    torch.set_num_threads(snakemake.threads)
    shard_fitting.fit_shard(
        Path(snakemake.input.data),
        Path(snakemake.output[0]),
        int(snakemake.wildcards.shard),
        **snakemake.params.settings,
    )
