from pathlib import Path

import torch

from gmnrep import activations
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"activations {snakemake.output[0]}"):
    torch.set_num_threads(snakemake.threads)
    activations.dump(
        Path(snakemake.input.model),
        Path(snakemake.input.data),
        [Path(p) for p in snakemake.input.shards],
        Path(snakemake.output[0]),
        **snakemake.params.settings,
    )
