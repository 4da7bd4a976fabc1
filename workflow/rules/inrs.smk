# One SIREN per image, fitted in independent shards of `inr.shard_size` images.


rule fit_inr_shard:
    input:
        f"{RESULTS}/data/{{dataset}}.h5",
    output:
        f"{RESULTS}/inrs/{{dataset}}/shard-{{shard}}.h5",
    log:
        f"{LOGS}/inrs/{{dataset}}/shard-{{shard}}.log",
    conda:
        ENV
    threads: config["inr"]["threads"]
    resources:
        mem_mb=config["inr"]["resources"]["mem_mb"],
        runtime=config["inr"]["resources"]["runtime"],
        gpu=config["inr"]["resources"].get("gpu", 0),
    params:
        settings=inr_params,
    script:
        "../scripts/fit_inr_shard.py"


rule summarize_inrs:
    input:
        inr_shard_files,
    output:
        summary=report(
            f"{RESULTS}/inrs/{{dataset}}/summary.csv",
            caption="../report/inr_summary.rst",
            category="INRs",
            subcategory="{dataset}",
        ),
        statistics=report(
            f"{RESULTS}/inrs/{{dataset}}/weight_statistics.csv",
            caption="../report/inr_weight_statistics.rst",
            category="INRs",
            subcategory="{dataset}",
        ),
    log:
        f"{LOGS}/inrs/{{dataset}}/summary.log",
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        target_psnr=inr_target_psnr,
    script:
        "../scripts/summarize_inrs.py"
