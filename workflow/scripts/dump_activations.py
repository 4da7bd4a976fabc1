from pathlib import Path

import torch

from gmnrep.representations import extract
from snakemake_job import recorded

with recorded(snakemake, f"activations {snakemake.output[0]}"):
    torch.set_num_threads(snakemake.threads)
    extract.dump(
        Path(snakemake.input.model),
        Path(snakemake.input.data),
        [Path(p) for p in snakemake.input.shards],
        Path(snakemake.output[0]),
        **snakemake.params.settings,
    )
