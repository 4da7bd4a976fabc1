from pathlib import Path

from gmnrep.inr import standard_sets
from snakemake_job import recorded

with recorded(snakemake, f"check the INR archive for {snakemake.output[0]}"):
    settings = dict(snakemake.params.settings)
    standard_sets.check_archive(
        folder=Path(settings.pop("folder")),
        data_path=Path(snakemake.input.data),
        manifest_path=Path(snakemake.output[0]),
        **settings,
    )
