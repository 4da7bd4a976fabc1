# The paper's Figures 2-4 and Table 2, from the CKA tables and activation dumps.


rule cka_figure:
    input:
        figure_table_files,
    output:
        report(
            f"{RESULTS}/figures/{{figure}}.pdf",
            caption="../report/cka_figure.rst",
            category="Figures",
            subcategory="{figure}",
        ),
    log:
        f"{LOGS}/figures/{{figure}}.log",
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        tables=figure_tables,
        layers=config["cka"]["figure_layers"],
    script:
        "../scripts/cka_figure.py"


rule sample_figure:
    input:
        unpack(sample_figure_inputs),
    output:
        figure=report(
            f"{RESULTS}/figures/fig4.pdf",
            caption="../report/fig4.rst",
            category="Figures",
            subcategory="fig4",
        ),
        counts=report(
            f"{RESULTS}/tables/fig4_counts.csv",
            caption="../report/fig4.rst",
            category="Figures",
            subcategory="fig4",
        ),
    log:
        f"{LOGS}/figures/fig4.log",
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        settings=sample_figure_params,
    script:
        "../scripts/sample_figure.py"


rule table2:
    input:
        unpack(table2_inputs),
    output:
        csv=report(
            f"{RESULTS}/tables/table2.csv",
            caption="../report/table2.rst",
            category="Tables",
        ),
        markdown=f"{RESULTS}/tables/table2.md",
        latex=f"{RESULTS}/tables/table2.tex",
    log:
        f"{LOGS}/tables/table2.log",
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        settings=table2_params,
    script:
        "../scripts/table2.py"
