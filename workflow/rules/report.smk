# The report's first page (workflow/report/workflow.rst includes it): what was run, each claim's
# verdict, and the verdict table a person reads (gmnrep.paper.overview).


rule overview:
    input:
        unpack(overview_inputs),
    output:
        PATHS["overview"],
    log:
        log_path(PATHS["overview"]),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("overview"),
        run=overview_params,
    script:
        "../scripts/overview.py"
