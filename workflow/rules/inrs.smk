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
    wildcard_constraints:
        dataset="|".join(FITTED_DATASETS) or "(?!)",  # (?!) matches nothing
    conda:
        ENV
    threads: config["inr"]["threads"]
    resources:
        mem_mb=heavy_resource(inr_resources, "mem_mb"),
        runtime=heavy_resource(inr_resources, "runtime"),
        gpu=heavy_resource(inr_resources, "gpu"),
    params:
        code=code_of("fit_inr_shard"),
        settings=inr_params,
    script:
        "../scripts/fit_inr_shard.py"


# A dataset named in inr.imported takes its INRs from a standard set's archive: one job checks
# every file it will import and lists them with their sha256, then one job per shard writes it
# (gmnrep.inr.standard_sets), so that a bad file stops the import before any shard exists.


rule import_inr_archive:
    input:
        data=PATHS["data"],
    output:
        PATHS["inr_manifest"],
    log:
        log_path(PATHS["inr_manifest"]),
    wildcard_constraints:
        dataset="|".join(IMPORTED_DATASETS) or "(?!)",
    conda:
        ENV
    resources:
        mem_mb=heavy_resource(inr_resources, "mem_mb"),
        runtime=heavy_resource(inr_resources, "runtime"),
    params:
        code=code_of("import_inr_archive"),
        settings=archive_params,
    script:
        "../scripts/import_inr_archive.py"


rule import_inr_shard:
    input:
        data=PATHS["data"],
        manifest=PATHS["inr_manifest"],
    output:
        PATHS["shard"],
    log:
        log_path(PATHS["shard"]),
    wildcard_constraints:
        dataset="|".join(IMPORTED_DATASETS) or "(?!)",
    conda:
        ENV
    resources:
        mem_mb=heavy_resource(inr_resources, "mem_mb"),
        runtime=heavy_resource(inr_resources, "runtime"),
    params:
        code=code_of("import_inr_shard"),
        settings=imported_shard_params,
    script:
        "../scripts/import_inr_shard.py"


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
        reference_set=reference_set,
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
