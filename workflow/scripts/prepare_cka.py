from pathlib import Path

from gmnrep import similarity
from snakemake_job import recorded

with recorded(snakemake, f"prepare CKA {snakemake.output[0]}"):
    similarity.write_operands(Path(snakemake.input[0]), Path(snakemake.output[0]), **snakemake.params.settings)
