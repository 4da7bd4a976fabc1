from pathlib import Path

from gmnrep.inr import standard_sets
from snakemake_job import recorded

with recorded(snakemake, f"import {snakemake.output[0]}"):
    standard_sets.import_shard(
        **snakemake.params.settings,
        data_path=Path(snakemake.input.data),
        manifest_path=Path(snakemake.input.manifest),
        shard=int(snakemake.wildcards.shard),
        shard_path=Path(snakemake.output[0]),
    )
