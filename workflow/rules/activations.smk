# Every representation layer of every trained model on the dataset's probe samples.


rule dump_activations:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{arch}}/seed-{{seed}}.pt",
        data=f"{RESULTS}/data/{{dataset}}.h5",
        shards=inr_shard_files,
    output:
        f"{RESULTS}/activations/{{dataset}}/{{arch}}/seed-{{seed}}.h5",
    log:
        f"{LOGS}/activations/{{dataset}}/{{arch}}/seed-{{seed}}.log",
    group:
        "representations"
    conda:
        ENV
    threads: config["models"]["threads"]
    resources:
        mem_mb=config["activations"]["resources"]["mem_mb"],
        runtime=config["activations"]["resources"]["runtime"],
        gpu=config["activations"]["resources"].get("gpu", 0),
    params:
        settings=activation_params,
    script:
        "../scripts/dump_activations.py"
