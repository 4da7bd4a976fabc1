# CKA between the representation layers of model pairs: each model's per-layer work once
# (prepare_cka, which also measures each layer's chance floor), then one small job per model
# pair (cka_pair).


rule prepare_cka:
    input:
        dump=PATHS["dump"],
    output:
        operands=PATHS["operands"],
        chance=PATHS["chance"],
    log:
        log_path(PATHS["operands"]),
    group:
        "representations"
    conda:
        ENV
    resources:
        mem_mb=config["cka"]["resources"]["mem_mb"],
        runtime=config["cka"]["resources"]["runtime"],
    params:
        code=code_of("prepare_cka"),
        settings=cka_params,
    script:
        "../scripts/prepare_cka.py"


rule cka_pair:
    input:
        a=pair_side("operands", "a"),
        b=pair_side("operands", "b"),
    output:
        table=PATHS["cka_pair"],
        blocks=PATHS["cka_blocks"],
    log:
        log_path(PATHS["cka_pair"]),
    benchmark:
        benchmark_path(PATHS["cka_pair"])
    group:
        "cka_pairs"
    conda:
        ENV
    resources:
        mem_mb=config["cka"]["resources"]["mem_mb"],
        runtime=config["cka"]["resources"]["runtime"],
    params:
        code=code_of("cka_pair"),
        settings=block_params,
    script:
        "../scripts/cka_pair.py"
