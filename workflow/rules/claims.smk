# The paper's findings as claims tested on this run's CKA tables, chance floors, predictions and
# accuracies (gmnrep.claims): the report's "Findings".


rule claims:
    input:
        unpack(claims_inputs),
    output:
        csv=report(
            f"{RESULTS}/tables/claims.csv",
            caption="../report/claims.rst",
            category="Findings",
        ),
        markdown=f"{RESULTS}/tables/claims.md",
        latex=f"{RESULTS}/tables/claims.tex",
    log:
        f"{LOGS}/tables/claims.log",
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        settings=claims_params,
    script:
        "../scripts/claims.py"
