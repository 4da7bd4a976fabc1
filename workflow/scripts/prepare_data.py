from pathlib import Path

from gmnrep import dataset_file
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"prepare {snakemake.output[0]}"):
    dataset_file.prepare(
        [Path(p) for p in snakemake.input], Path(snakemake.output[0]), **snakemake.params.settings
    )
