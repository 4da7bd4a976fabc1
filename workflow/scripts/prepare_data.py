from pathlib import Path

from gmnrep.data import dataset_file
from snakemake_job import recorded

with recorded(snakemake, f"prepare {snakemake.output[0]}"):
    dataset_file.prepare([Path(p) for p in snakemake.input.raw], Path(snakemake.output[0]), **snakemake.params.settings)
