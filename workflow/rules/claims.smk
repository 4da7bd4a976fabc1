# The paper's findings as claims tested on this run's CKA tables, chance floors, predictions and
# accuracies (gmnrep.paper.claims): the report's "Findings", and the run's findings summary
# (tables/findings.md: each claim's verdict, then the table; `make results-page`, that is
# `gmnrep findings CLAIMS PAGE`, writes it into docs/results.md from the claims table).


rule claims:
    input:
        unpack(claims_inputs),
    output:
        **table_outputs("claims", caption="../report/claims.rst", category="Findings"),
        findings=PATHS["table"].format(name="findings", ext="md"),
    log:
        log_path(PATHS["table"].format(name="claims", ext="csv")),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("claims"),
        layers=config["cka"]["figure_layers"],
        deepest=DEEPEST,
        settings=config["claims"],
    script:
        "../scripts/claims.py"
