from pathlib import Path

from gmnrep.paper import overview
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"report overview {snakemake.output[0]}"):
    overview.write_overview(
        overview.RunSettings(**snakemake.params.run),
        {dataset: paths[0] for dataset, paths in by_dataset(snakemake, "inrs").items()},
        Path(snakemake.input.accuracy),
        Path(snakemake.input.claims),
        Path(snakemake.output[0]),
    )
