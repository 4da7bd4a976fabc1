from pathlib import Path

from gmnrep.data.fetch import fetch_file
from gmnrep.data.sources import source
from snakemake_job import recorded

with recorded(snakemake, f"fetch {snakemake.output[0]}"):
    dataset = source(snakemake.wildcards.dataset)
    (raw,) = [r for r in dataset.files if r.name == snakemake.wildcards.filename]
    origin = fetch_file(raw, Path(snakemake.output[0]), dataset.system_dirs)
    print(f"{snakemake.output[0]} <- {origin}")
