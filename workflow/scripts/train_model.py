from pathlib import Path

import torch

from gmnrep import training
from gmnrep.allocator import keep_freed_memory
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"train {snakemake.output.model}"):
    torch.set_num_threads(snakemake.threads)
    keep_freed_memory()
    training.train_and_save(
        Path(snakemake.input.data),
        [Path(p) for p in snakemake.input.shards],
        Path(snakemake.output.model),
        Path(snakemake.output.metrics),
        **snakemake.params.settings,
    )
