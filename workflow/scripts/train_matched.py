from pathlib import Path

import torch

from gmnrep.core.allocator import keep_freed_memory
from gmnrep.models import matching
from snakemake_job import recorded
from training_job import resume_plan, training_job

with recorded(snakemake, f"train (accuracy-matched) {snakemake.output.model}") as fingerprint:
    torch.set_num_threads(snakemake.threads)
    keep_freed_memory()
    matching.train_matched(
        training_job(snakemake),
        matching.MatchingSettings(**snakemake.params.matching),
        [Path(p) for p in snakemake.input.target_metrics],
        resume=resume_plan(snakemake, fingerprint),
    )
