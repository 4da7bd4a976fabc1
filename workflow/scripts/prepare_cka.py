from pathlib import Path

from gmnrep import similarity
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"prepare CKA {snakemake.output[0]}"):
    similarity.write_operands(Path(snakemake.input[0]), Path(snakemake.output[0]), **snakemake.params.settings)
