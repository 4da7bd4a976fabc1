from pathlib import Path

from gmnrep.paper import claims, claims_table
from snakemake_job import by_dataset, recorded

with recorded(snakemake, f"claims {snakemake.output.csv}"):
    rows = claims.claim_rows(
        by_dataset(snakemake, "tables"),
        by_dataset(snakemake, "blocks"),
        by_dataset(snakemake, "chance"),
        by_dataset(snakemake, "dumps"),
        [Path(p) for p in snakemake.input.metrics],
        list(snakemake.params.layers),
        claims.ClaimSettings(**snakemake.params.settings),
        snakemake.params.deepest,
    )
    claims_table.write_claims(
        rows,
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
        Path(snakemake.output.findings),
    )
