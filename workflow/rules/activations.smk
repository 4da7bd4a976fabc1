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
        mem_mb=heavy_resource(activation_resources, "mem_mb"),
        runtime=heavy_resource(activation_resources, "runtime"),
        gpu=heavy_resource(activation_resources, "gpu"),
    params:
        code=code_of("dump_activations"),
        settings=activation_params,
    script:
        "../scripts/dump_activations.py"
