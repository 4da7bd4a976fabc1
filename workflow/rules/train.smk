# GMNs on the INRs' parameter graphs, MLPs and CNNs on the same images: one job per
# dataset x architecture x seed, then Table 1 over all of them.


rule train_model:
    input:
        data=f"{RESULTS}/data/{{dataset}}.h5",
        shards=inr_shard_files,
    output:
        model=f"{RESULTS}/models/{{dataset}}/{{arch}}/seed-{{seed}}.pt",
        metrics=f"{RESULTS}/models/{{dataset}}/{{arch}}/seed-{{seed}}.metrics.json",
    log:
        f"{LOGS}/models/{{dataset}}/{{arch}}/seed-{{seed}}.log",
    conda:
        ENV
    threads: config["models"]["threads"]
    resources:
        mem_mb=model_resource("mem_mb"),
        runtime=model_resource("runtime"),
        gpu=model_resource("gpu"),
    params:
        settings=training_params,
    script:
        "../scripts/train_model.py"


rule table1:
    input:
        all_model_metrics,
    output:
        csv=report(
            f"{RESULTS}/tables/table1.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        markdown=f"{RESULTS}/tables/table1.md",
        latex=f"{RESULTS}/tables/table1.tex",
    log:
        f"{LOGS}/tables/table1.log",
    group:
        "summaries"
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    script:
        "../scripts/table1.py"
