from pathlib import Path

from gmnrep.paper import training_curves
from snakemake_job import recorded

with recorded(snakemake, f"training curves {snakemake.output.figure}"):
    training_curves.training_curves(
        [Path(p) for p in snakemake.input.metrics],
        Path(snakemake.output.figure),
        Path(snakemake.output.convergence),
    )
