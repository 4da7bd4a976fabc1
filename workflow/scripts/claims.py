from pathlib import Path

from gmnrep import claims
from snakemake_job import recorded


def paths(by_dataset):
    return {d: [Path(p) for p in ps] for d, ps in by_dataset.items()}


params = snakemake.params.settings
with recorded(snakemake, f"claims {snakemake.output.csv}"):
    rows = claims.claim_rows(
        paths(params["tables"]),
        paths(params["chance"]),
        paths(params["dumps"]),
        [Path(p) for p in snakemake.input.metrics],
        list(params["layers"]),
        claims.ClaimSettings(**params["settings"]),
    )
    claims.write_claims(
        rows,
        Path(snakemake.output.csv),
        Path(snakemake.output.markdown),
        Path(snakemake.output.latex),
    )
