# CKA between the representation layers of model pairs: each model's per-layer work once
# (prepare_cka, which also measures each layer's chance floor), then one small job per model
# pair (cka_pair).


rule prepare_cka:
    input:
        f"{RESULTS}/activations/{{dataset}}/{{arch}}/seed-{{seed}}.h5",
    output:
        operands=f"{RESULTS}/cka/{{dataset}}/operands/{{arch}}-{{seed}}.h5",
        chance=f"{RESULTS}/cka/{{dataset}}/chance/{{arch}}-{{seed}}.csv",
    log:
        f"{LOGS}/cka/{{dataset}}/operands/{{arch}}-{{seed}}.log",
    group:
        "representations"
    conda:
        ENV
    resources:
        mem_mb=config["cka"]["resources"]["mem_mb"],
        runtime=config["cka"]["resources"]["runtime"],
    params:
        settings=cka_params,
    script:
        "../scripts/prepare_cka.py"


rule cka_pair:
    input:
        a=f"{RESULTS}/cka/{{dataset}}/operands/{{arch_a}}-{{seed_a}}.h5",
        b=f"{RESULTS}/cka/{{dataset}}/operands/{{arch_b}}-{{seed_b}}.h5",
    output:
        f"{RESULTS}/cka/{{dataset}}/{{arch_a}}-{{seed_a}}__{{arch_b}}-{{seed_b}}.csv",
    log:
        f"{LOGS}/cka/{{dataset}}/{{arch_a}}-{{seed_a}}__{{arch_b}}-{{seed_b}}.log",
    group:
        "cka_pairs"
    conda:
        ENV
    resources:
        mem_mb=config["cka"]["resources"]["mem_mb"],
        runtime=config["cka"]["resources"]["runtime"],
    script:
        "../scripts/cka_pair.py"
