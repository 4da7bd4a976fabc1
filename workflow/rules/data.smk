# Raw archives -> verified local copies -> one HDF5 file of images, labels and splits.


# Downloads run where the workflow is started: cluster nodes often have no internet.
localrules:
    fetch_raw,


rule fetch_raw:
    output:
        PATHS["raw"],
    log:
        f"{LOGS}/fetch/{{dataset}}/{{filename}}.log",
    conda:
        ENV
    resources:
        mem_mb=500,
        runtime=60,
    params:
        code=code_of("fetch_raw"),
    script:
        "../scripts/fetch_raw.py"


rule prepare_data:
    input:
        raw=raw_inputs,
    output:
        PATHS["data"],
    log:
        log_path(PATHS["data"]),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=config["data_resources"]["mem_mb"],
        runtime=config["data_resources"]["runtime"],
    params:
        code=code_of("prepare_data"),
        settings=data_params,
    script:
        "../scripts/prepare_data.py"
