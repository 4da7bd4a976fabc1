# gmnrep: from raw datasets to the figures and tables of
# "On the Internal Representations of Graph Metanetworks" (Yeom & Lee, 2025).
# Settings: config.yaml (a smaller preset is layered over it: --configfile presets/demo.yaml).


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/inrs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/cka.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/audit.smk"


rule all:
    default_target: True
    input:
        final_targets(),
        PATHS["manifest"],
