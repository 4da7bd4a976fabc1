from pathlib import Path

from gmnrep.representations import similarity
from snakemake_job import recorded

with recorded(snakemake, f"prepare CKA {snakemake.output.operands}"):
    similarity.write_operands(
        Path(snakemake.input.dump),
        Path(snakemake.output.operands),
        Path(snakemake.output.chance),
        **snakemake.params.settings,
    )
