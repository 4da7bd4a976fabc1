from pathlib import Path

from gmnrep import tables
from snakemake_job import recorded

settings = snakemake.params.settings
with recorded(snakemake, f"table {snakemake.output.csv}"):
    tables.write_similarity_table(
        {d: [Path(p) for p in paths] for d, paths in settings["tables"].items()},
        {d: [Path(p) for p in paths] for d, paths in settings["dumps"].items()},
        {d: [Path(p) for p in paths] for d, paths in settings["chance"].items()},
        list(settings["layers"]),
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
    )
