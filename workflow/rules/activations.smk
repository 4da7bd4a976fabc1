# Every representation layer of every trained model on the dataset's probe samples.


rule dump_activations:
    input:
        model=PATHS["model"],
        data=PATHS["data"],
        shards=inr_shard_files,
    output:
        PATHS["dump"],
    log:
        log_path(PATHS["dump"]),
    benchmark:
        benchmark_path(PATHS["dump"])
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
        code=code_of("dump_activations"),
        settings=activation_params,
    script:
        "../scripts/dump_activations.py"
