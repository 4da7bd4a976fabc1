from pathlib import Path

from gmnrep.representations import similarity
from snakemake_job import recorded

with recorded(snakemake, f"CKA {snakemake.output.table}"):
    similarity.write_pair_table(
        Path(snakemake.input.a),
        Path(snakemake.input.b),
        Path(snakemake.output.table),
        Path(snakemake.output.blocks),
        **snakemake.params.settings,
    )
