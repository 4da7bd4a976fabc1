# The paper's Figures 2-4 and Table 2, from the CKA tables and activation dumps, and the
# weight-space families side by side.


rule cka_figure:
    input:
        unpack(cka_figure_inputs),
    output:
        report(
            PATHS["figure"],
            caption="../report/cka_figure.rst",
            category="Figures",
            subcategory="{figure}",
        ),
    log:
        log_path(PATHS["figure"]),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("cka_figure"),
        layers=config["cka"]["figure_layers"],
        deepest=DEEPEST,
    script:
        "../scripts/cka_figure.py"


rule sample_figure:
    input:
        unpack(sample_figure_inputs),
    output:
        figure=report(
            PATHS["figure"].format(figure="fig4"),
            caption="../report/fig4.rst",
            category="Figures",
            subcategory="fig4",
        ),
        counts=report(
            PATHS["table"].format(name="fig4_counts", ext="csv"),
            caption="../report/fig4.rst",
            category="Figures",
            subcategory="fig4",
        ),
    log:
        log_path(PATHS["figure"].format(figure="fig4")),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("sample_figure"),
        examples=config["figures"]["fig4_examples"],
    script:
        "../scripts/sample_figure.py"


rule training_curves:
    input:
        metrics=dataset_model_metrics,
    output:
        figure=report(
            PATHS["training_curves"],
            caption="../report/training_curves.rst",
            category="Figures",
            subcategory="training curves",
        ),
        convergence=report(
            PATHS["convergence"],
            caption="../report/training_curves.rst",
            category="Figures",
            subcategory="training curves",
        ),
    log:
        log_path(PATHS["training_curves"]),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("training_curves"),
    script:
        "../scripts/training_curves.py"


rule table2:
    input:
        unpack(table2_inputs),
    output:
        **table_outputs("table2", caption="../report/table2.rst", category="Tables"),
    log:
        log_path(PATHS["table"].format(name="table2", ext="csv")),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("table2"),
        layers=config["cka"]["figure_layers"],
        deepest=DEEPEST,
    script:
        "../scripts/table2.py"


rule family_comparison:
    input:
        unpack(family_comparison_inputs),
    output:
        **table_outputs("families", caption="../report/families.rst", category="Tables"),
        figure=report(
            PATHS["figure"].format(figure="families"),
            caption="../report/families.rst",
            category="Figures",
            subcategory="families",
        ),
    log:
        log_path(PATHS["table"].format(name="families", ext="csv")),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("family_comparison"),
        layers=config["cka"]["figure_layers"],
        deepest=DEEPEST,
    script:
        "../scripts/family_comparison.py"
