from pathlib import Path

import torch

from gmnrep.core.allocator import keep_freed_memory
from gmnrep.models import matching
from snakemake_job import recorded, resume_plan

with recorded(snakemake, f"train (accuracy-matched) {snakemake.output.model}") as fingerprint:
    torch.set_num_threads(snakemake.threads)
    keep_freed_memory()
    matching.train_matched(
        Path(snakemake.input.data),
        [Path(p) for p in snakemake.input.shards],
        [Path(p) for p in snakemake.input.target_metrics],
        Path(snakemake.output.model),
        Path(snakemake.output.metrics),
        **snakemake.params.settings,
        resume=resume_plan(snakemake, fingerprint),
    )
