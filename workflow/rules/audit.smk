# Provenance: every job leaves a record under {results}/audit/jobs/ (workflow/scripts/snakemake_job.py);
# audit_manifest gathers them at the end of a run, `snakemake audit` (or `gmnrep audit`) checks them.


localrules:
    audit_manifest,
    audit,


rule audit_manifest:
    input:
        final_targets(),
    output:
        manifest=PATHS["manifest"],
        summary=report(
            PATHS["audit_summary"],
            caption="../report/audit.rst",
            category="Audit",
        ),
    log:
        log_path(PATHS["manifest"]),
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_of("audit_manifest"),
    script:
        "../scripts/audit_manifest.py"


# A target without outputs, so it always runs: `snakemake audit --configfile presets/demo.yaml`.
rule audit:
    log:
        f"{LOGS}/audit/audit.log",
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        snakefile=workflow.main_snakefile,
        configfiles=run_configfiles(),
        config_args=run_config_args(),
    script:
        "../scripts/audit.py"
