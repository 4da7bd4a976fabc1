from pathlib import Path

from gmnrep.fetch import fetch_file
from gmnrep.runlog import job_log
from gmnrep.sources import source

with job_log(snakemake.log[0], f"fetch {snakemake.output[0]}"):
    dataset = source(snakemake.wildcards.dataset)
    (raw,) = [r for r in dataset.files if r.name == snakemake.wildcards.filename]
    origin = fetch_file(raw, Path(snakemake.output[0]), dataset.system_dirs)
    print(f"{snakemake.output[0]} <- {origin}")
