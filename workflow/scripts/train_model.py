import torch

from gmnrep.core.allocator import keep_freed_memory
from gmnrep.models import training
from snakemake_job import recorded
from training_job import resume_plan, training_job

with recorded(snakemake, f"train {snakemake.output.model}") as fingerprint:
    torch.set_num_threads(snakemake.threads)
    keep_freed_memory()
    training.train_and_save(training_job(snakemake), resume=resume_plan(snakemake, fingerprint))
