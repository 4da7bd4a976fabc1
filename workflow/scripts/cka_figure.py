from pathlib import Path

from gmnrep import figures
from gmnrep.runlog import job_log

with job_log(snakemake.log[0], f"figure {snakemake.output[0]}"):
    figures.cka_figure(
        {d: [Path(p) for p in paths] for d, paths in snakemake.params.tables.items()},
        list(snakemake.params.layers),
        Path(snakemake.output[0]),
    )
