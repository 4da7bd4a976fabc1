# GMNs on the INRs' parameter graphs, MLPs and CNNs on the same images: one job per
# dataset x architecture x seed; the accuracy-matched twins of the image networks once the
# dataset's GMNs are trained; then Table 1 over all of them.


rule train_model:
    input:
        data=PATHS["data"],
        shards=inr_shard_files,
    output:
        model=PATHS["model"],
        metrics=PATHS["metrics"],
    log:
        log_path(PATHS["model"]),
    benchmark:
        benchmark_path(PATHS["model"])
    wildcard_constraints:
        arch="|".join(TRAINED_ARCHS),
    conda:
        ENV
    threads: config["models"]["threads"]
    resources:
        mem_mb=heavy_resource(model_resources, "mem_mb"),
        runtime=heavy_resource(model_resources, "runtime"),
        gpu=heavy_resource(model_resources, "gpu"),
    params:
        code=code_of("train_model"),
        settings=training_params,
    script:
        "../scripts/train_model.py"


rule train_matched:
    input:
        data=PATHS["data"],
        shards=inr_shard_files,
        target_metrics=target_metrics,
    output:
        model=PATHS["model"],
        metrics=PATHS["metrics"],
    log:
        log_path(PATHS["model"]),
    benchmark:
        benchmark_path(PATHS["model"])
    wildcard_constraints:
        arch="|".join(MATCHED_ARCHS) or "(?!)",  # (?!) matches nothing
    conda:
        ENV
    threads: config["models"]["threads"]
    resources:
        mem_mb=heavy_resource(model_resources, "mem_mb"),
        runtime=heavy_resource(model_resources, "runtime"),
        gpu=heavy_resource(model_resources, "gpu"),
    params:
        code=code_of("train_matched"),
        settings=training_params,
        matching=matching_params,
    script:
        "../scripts/train_matched.py"


rule table1:
    input:
        metrics=all_model_metrics,
    output:
        **table_outputs("table1", caption="../report/table1.rst", category="Tables"),
    log:
        log_path(PATHS["table"].format(name="table1", ext="csv")),
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("table1"),
    script:
        "../scripts/table1.py"
