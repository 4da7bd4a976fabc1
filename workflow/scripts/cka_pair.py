from pathlib import Path

from gmnrep import similarity
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"CKA {snakemake.output[0]}"):
    similarity.write_pair_table(Path(snakemake.input.a), Path(snakemake.input.b), Path(snakemake.output[0]))
