# One SIREN per image, fitted in independent shards of `inr.shard_size` images.


rule fit_inr_shard:
    input:
        data=PATHS["data"],
    output:
        PATHS["shard"],
    log:
        log_path(PATHS["shard"]),
    benchmark:
        benchmark_path(PATHS["shard"])
    conda:
        ENV
    threads: config["inr"]["threads"]
    resources:
        mem_mb=config["inr"]["resources"]["mem_mb"],
        runtime=config["inr"]["resources"]["runtime"],
        gpu=config["inr"]["resources"].get("gpu", 0),
    params:
        code=code_of("fit_inr_shard"),
        settings=inr_params,
    script:
        "../scripts/fit_inr_shard.py"


rule summarize_inrs:
    input:
        shards=inr_shard_files,
    output:
        summary=report(
            PATHS["inr_summary"],
            caption="../report/inr_summary.rst",
            category="INRs",
            subcategory="{dataset}",
        ),
        statistics=report(
            PATHS["inr_statistics"],
            caption="../report/inr_weight_statistics.rst",
            category="INRs",
            subcategory="{dataset}",
        ),
    log:
        log_path(PATHS["inr_summary"]),
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_of("summarize_inrs"),
        target_psnr=inr_target_psnr,
    script:
        "../scripts/summarize_inrs.py"


rule inr_figure:
    input:
        data=PATHS["data"],
        shards=inr_shard_files,
    output:
        report(
            PATHS["inr_figure"],
            caption="../report/inr_figure.rst",
            category="INRs",
            subcategory="{dataset}",
        ),
    log:
        log_path(PATHS["inr_figure"]),
    conda:
        ENV
    resources:
        mem_mb=config["table_resources"]["mem_mb"],
        runtime=config["table_resources"]["runtime"],
    params:
        code=code_of("inr_figure"),
        target_psnr=inr_target_psnr,
        examples=config["figures"]["inr_examples"],
    script:
        "../scripts/inr_figure.py"
