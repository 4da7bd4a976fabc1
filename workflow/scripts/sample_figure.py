from pathlib import Path

from gmnrep import figures
from snakemake_job import recorded

settings = snakemake.params.settings
with recorded(snakemake, f"figure {snakemake.output.figure}"):
    figures.sample_figure(
        {d: [Path(p) for p in paths] for d, paths in settings["dumps"].items()},
        {d: Path(p) for d, p in settings["data"].items()},
        {d: [Path(p) for p in paths] for d, paths in settings["shards"].items()},
        Path(snakemake.output.figure),
        Path(snakemake.output.counts),
        settings["examples"],
    )
