import json
import math
import os
import sys
from functools import partial
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The library lives in src/; make it importable here and in every job, whatever the
# software deployment (venv, conda env, cluster node). PYTHONPATH is provided to jobs,
# not required from the user, so it is no case for the envvars directive.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)
)

from gmnrep import config as gmn_config
from gmnrep.data import dataset_file
from gmnrep.representations import pairs
from gmnrep.core import gpu_slots, numerics
from gmnrep.models.registry import network_arch, weight_space_archs
from gmnrep.inr import planning
from gmnrep.provenance import code
from gmnrep.data.sources import SOURCES

# Snakemake has layered the config files (config.yaml, then each --configfile, e.g. a preset)
# and the --config values; check the result before any job is planned.
gmn_config.resolve(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    command_line=dict(workflow.config_settings.config),
)
# Snakemake compares params by their repr, which keeps the key order the layering happened to give
# (`--configfile P` and `--configfile config.yaml P` differ): every mapping in sorted order instead.
_canonical = gmn_config.canonical(config)
config.clear()
config.update(_canonical)

# Pinned CPU numerics reach every job through the environment it inherits from this process (and,
# on SLURM, from the job's own Snakemake, which reads this file again), before the job imports torch
# or numpy. This process has loaded numpy (Snakemake does) but computes nothing: the pins are for its jobs.
if config["cpu_numerics"] == "pinned":
    numerics.pin(jobs_only=True)

# One GPU job per device on this machine, as SLURM gives each job its own GPU: unless the command
# line says how many may run at once (--resources gpu=N), a local run allows as many as it has
# GPUs, and each job takes a free one (gmnrep.core.gpu_slots).
if workflow.local_exec and "gpu" not in workflow.global_resources:
    _gpus = gpu_slots.gpu_count()
    if _gpus:
        workflow.register_resource("gpu", _gpus)

RESULTS = config["results"]
# Datasets whose INRs come from a standard set (inr.imported) instead of being fitted.
IMPORTED_DATASETS = [d for d in config["datasets"] if d in config["inr"]["imported"]]
FITTED_DATASETS = [d for d in config["datasets"] if d not in IMPORTED_DATASETS]
LOGS = config["logs"]
RAW = config["raw_dir"]
DATASETS = config["datasets"]
ENV = "../../envs/gmnrep.yaml"
SCRIPTS = Path(workflow.basedir) / "workflow/scripts"
RAW_FILES = sorted({raw.name for s in SOURCES.values() for raw in s.files})

# Every artifact's path, once: rules name these as their inputs and outputs, helpers expand them.
MODEL = "{dataset}/{arch}/seed-{seed}"
PAIR = "{dataset}/{arch_a}-{seed_a}__{arch_b}-{seed_b}"
PATHS = {
    "raw": f"{RAW}/{{dataset}}/{{filename}}",
    "data": f"{RESULTS}/data/{{dataset}}.h5",
    "shard": f"{RESULTS}/inrs/{{dataset}}/shard-{{shard}}.h5",
    "inr_summary": f"{RESULTS}/inrs/{{dataset}}/summary.csv",
    "inr_statistics": f"{RESULTS}/inrs/{{dataset}}/weight_statistics.csv",
    "inr_figure": f"{RESULTS}/inrs/{{dataset}}/reconstructions.pdf",
    "inr_manifest": f"{RESULTS}/inrs/{{dataset}}/imported_files.csv",
    "model": f"{RESULTS}/models/{MODEL}.pt",
    "metrics": f"{RESULTS}/models/{MODEL}.metrics.json",
    "dump": f"{RESULTS}/activations/{MODEL}.h5",
    "operands": f"{RESULTS}/cka/{{dataset}}/operands/{{arch}}-{{seed}}.h5",
    "chance": f"{RESULTS}/cka/{{dataset}}/chance/{{arch}}-{{seed}}.csv",
    "cka_pair": f"{RESULTS}/cka/{PAIR}.csv",
    "cka_blocks": f"{RESULTS}/cka/{PAIR}.blocks.csv",
    "figure": f"{RESULTS}/figures/{{figure}}.pdf",
    "training_curves": f"{RESULTS}/figures/training_curves/{{dataset}}.pdf",
    "convergence": f"{RESULTS}/figures/training_curves/{{dataset}}.csv",
    "table": f"{RESULTS}/tables/{{name}}.{{ext}}",
    "overview": f"{RESULTS}/report/overview.rst",
    "manifest": f"{RESULTS}/audit/manifest.json",
    "audit_summary": f"{RESULTS}/audit/summary.csv",
}

# The trained architectures, then the accuracy-matched twins of image networks (e.g. mlpmatch).
TRAINED_ARCHS = config["models"]["architectures"]
MATCHED_ARCHS = gmn_config.matched_architectures(config["models"])
MODEL_ARCHS = gmn_config.model_architectures(config["models"])
# What the compared layers (cka.figure_layers) are numbered in: gmnrep.representations.compared_layers.
DEEPEST = gmn_config.deepest_representation(config["models"])
ARCHITECTURE_PATTERN = "|".join(MODEL_ARCHS)


wildcard_constraints:
    dataset="|".join(SOURCES),
    shard=r"\d+",
    arch=ARCHITECTURE_PATTERN,
    arch_a=ARCHITECTURE_PATTERN,
    arch_b=ARCHITECTURE_PATTERN,
    seed=r"\d+",
    seed_a=r"\d+",
    seed_b=r"\d+",
    figure="fig2|fig3",
    filename="|".join(RAW_FILES).replace(".", r"\."),


def log_path(artifact):
    """The log of the job that writes `artifact` (a path under RESULTS): the same path under LOGS."""
    return str(Path(LOGS) / Path(artifact).relative_to(RESULTS).with_suffix(".log"))


def code_of(rule_name):
    """One digest of the modules (library and script helpers) that the rule's script imports: a
    param of every rule, so that a code change reruns exactly the jobs that run it; each job records
    the modules' own digests, which the audit compares (docs/auditing.md).
    """
    return code.code_digest(code.script_code(SCRIPTS / f"{rule_name}.py", _SRC))


def benchmark_path(artifact):
    """Snakemake's time and memory record of the job that writes `artifact`, beside the logs."""
    return str(
        Path(LOGS)
        / "benchmarks"
        / Path(artifact).relative_to(RESULTS).with_suffix(".tsv")
    )


def pair_side(kind, side):
    """Artifact `kind` of model `side` ("a" or "b") of a compared pair (wildcards arch_a, seed_a, ...)."""
    return (
        PATHS[kind]
        .replace("{arch}", f"{{arch_{side}}}")
        .replace("{seed}", f"{{seed_{side}}}")
    )


def table_outputs(name, caption, category):
    """A table's CSV (in the report) with its Markdown and LaTeX renderings."""
    table = partial(PATHS["table"].format, name=name)
    return {
        "csv": report(table(ext="csv"), caption=caption, category=category),
        "markdown": table(ext="md"),
        "latex": table(ext="tex"),
    }


def num_shards(dataset):
    return planning.shard_count(
        gmn_config.dataset_split_sizes(config, dataset),
        config["inr"]["subset"],
        config["inr"]["shard_size"],
    )


def raw_inputs(wildcards):
    return [
        str(p)
        for p in dataset_file.raw_paths(
            SOURCES[wildcards.dataset], Path(RAW) / wildcards.dataset
        )
    ]


def data_params(wildcards):
    data = config["data"]
    return {
        "dataset": wildcards.dataset,
        "validation_size": data["validation_size"][wildcards.dataset],
        "test_size": data["digits_test_size"],
        "seed": data["split_seed"],
    }


def inr_recipe(dataset):
    return config["inr"]["recipes"][gmn_config.inr_recipe_name(config, dataset)]


def inr_params(wildcards):
    inr = config["inr"]
    return {
        "recipe": inr_recipe(wildcards.dataset),
        "seed": inr["seed"],
        "shard_size": inr["shard_size"],
        "num_shards": num_shards(wildcards.dataset),
        "subset": inr["subset"],
        "subset_seed": inr["subset_seed"],
        "fit_batch_size": inr["fit_batch_size"],
        "device": inr["device"],
    }


def shard_files(dataset):
    return expand(PATHS["shard"], dataset=dataset, shard=range(num_shards(dataset)))


def inr_shard_files(wildcards):
    return shard_files(wildcards.dataset)


def archive_params(wildcards):
    """An imported dataset's set and archive, and which of its INRs the run selects."""
    inr = config["inr"]
    standard = gmn_config.imported_set(config, wildcards.dataset)
    entry = inr["imported"][wildcards.dataset]
    return {
        "layout": standard["layout"],
        "folder": entry["folder"],
        "splits_file": entry.get("splits"),
        "split_sizes": standard["split_sizes"],
        "recipe": inr_recipe(wildcards.dataset),
        "num_official_train": SOURCES[wildcards.dataset].num_official_train,
        "subset": inr["subset"],
        "subset_seed": inr["subset_seed"],
        "split_seed": config["data"]["split_seed"],
    }


def imported_shard_params(wildcards):
    """What a shard of an imported dataset needs beside the archive's manifest."""
    standard = gmn_config.imported_set(config, wildcards.dataset)
    return {
        "set_name": standard["name"],
        "layout": standard["layout"],
        "folder": config["inr"]["imported"][wildcards.dataset]["folder"],
        "recipe": inr_recipe(wildcards.dataset),
        "shard_size": config["inr"]["shard_size"],
        "num_shards": num_shards(wildcards.dataset),
    }


def reference_set(wildcards):
    """The standard set whose published weight statistics a dataset's INRs are compared with: the
    imported one, or the one of the same dataset and recipe (None if there is none)."""
    standard = gmn_config.imported_set(config, wildcards.dataset)
    if standard:
        return standard["name"]
    recipe = gmn_config.inr_recipe_name(config, wildcards.dataset)
    sets = config["inr"]["standard_sets"].items()
    return next(
        (
            name
            for name, s in sets
            if s["dataset"] == wildcards.dataset and s["recipe"] == recipe
        ),
        None,
    )


def inr_target_psnr(wildcards):
    return inr_recipe(wildcards.dataset)["target_psnr"]


def inr_resources(wildcards):
    return config["inr"]["resources"]


def model_resources(wildcards):
    """A training's resources: a matched twin (mlpmatch) asks for what its network (mlp) does."""
    return config["models"][network_arch(wildcards.arch)]["resources"]


def activation_resources(wildcards):
    return config["activations"]["resources"]


def heavy_resource(resources_of, name):
    """Resource `name` of a heavy rule's jobs, from the config section `resources_of` gives; runtime
    and mem_mb grow with each attempt by config retry_growth, so that a job SLURM ended at its time
    limit or out of memory is resubmitted with more (a training resumes where it was).
    """

    def resource(wildcards, attempt):
        value = resources_of(wildcards).get(name, 0)
        return math.ceil(value * config["retry_growth"].get(name, 1) ** (attempt - 1))

    return resource


def training_params(wildcards):
    """A training's settings: a matched twin (mlpmatch) trains as its network (mlp) does."""
    models = config["models"]
    settings = models[network_arch(wildcards.arch)]
    return {
        "dataset": wildcards.dataset,
        "arch": wildcards.arch,
        "seed": int(wildcards.seed),
        "network": settings["network"],
        "training": settings["training"],
        "device": models["device"],
    }


def matching_params(wildcards):
    """How a matched twin is matched: the target and method, and the settings of that method only
    (so that changing the other method's settings reruns nothing)."""
    matched = config["models"]["matched"]
    method_key = {"steps": "evaluate_every", "data": "subset_fractions"}[
        matched["method"]
    ]
    return {
        "target_arch": matched["target"],
        "method": matched["method"],
        method_key: matched[method_key],
    }


def target_metrics(wildcards):
    """The metrics of the models whose accuracy the matched twins match (models.matched.target)."""
    return expand(
        PATHS["metrics"],
        dataset=wildcards.dataset,
        arch=config["models"]["matched"]["target"],
        seed=config["models"]["seeds"],
    )


def activation_params(wildcards):
    settings = config["activations"]
    return {
        "probe_size": settings["probe_size"],
        "probe_seed": settings["probe_seed"],
        "batch_size": settings["batch_size"],
        "device": settings["device"],
    }


def cka_params(wildcards):
    settings = config["cka"]
    return {
        "estimator": settings["estimator"],
        "minibatch_size": settings["minibatch_size"],
        "seed": settings["seed"],
    }


def block_params(wildcards):
    settings = config["cka"]
    return {
        "layers": settings["figure_layers"],
        "probe_blocks": settings["probe_blocks"],
        "seed": settings["seed"],
        "deepest": DEEPEST,
    }


def model_files(kind, dataset):
    """Artifact `kind` of every trained model of `dataset`."""
    return expand(
        PATHS[kind], dataset=dataset, arch=MODEL_ARCHS, seed=config["models"]["seeds"]
    )


def dataset_model_metrics(wildcards):
    return model_files("metrics", wildcards.dataset)


def all_model_metrics(wildcards):
    return [path for dataset in DATASETS for path in model_files("metrics", dataset)]


def cka_tables(dataset, scheme, kind="cka_pair"):
    """The CKA table (or block table: kind "cka_blocks") of every model pair of `dataset` compared in `scheme`."""
    return [
        PATHS[kind].format(
            dataset=dataset, arch_a=arch_a, seed_a=seed_a, arch_b=arch_b, seed_b=seed_b
        )
        for (arch_a, seed_a), (arch_b, seed_b) in pairs.model_pairs(
            MODEL_ARCHS, config["models"]["seeds"], scheme
        )
    ]


def paper_pair_tables(dataset):
    """The CKA tables of the paper's (cyclic) pairs: what the figures and Table 2 show."""
    return cka_tables(dataset, "cyclic")


def compared_pair_tables(dataset):
    """The CKA tables of every pair the configuration compares: what the claims test."""
    return cka_tables(dataset, config["cka"]["pairs"])


def compared_block_tables(dataset):
    """The block tables of those pairs: the probe samples' part of the claims' intervals."""
    return cka_tables(dataset, config["cka"]["pairs"], "cka_blocks")


def per_dataset(datasets, **kinds):
    """Named inputs `{kind}__{dataset}` (each a function of the dataset), which a rule script
    regroups by dataset (snakemake_job.by_dataset)."""
    return {
        f"{kind}__{dataset}": files(dataset)
        for kind, files in kinds.items()
        for dataset in datasets
    }


def dumps(dataset):
    return model_files("dump", dataset)


def chance_tables(dataset):
    return model_files("chance", dataset)


def data_file(dataset):
    return [PATHS["data"].format(dataset=dataset)]


def figure_datasets(figure):
    return [d for d in config["figures"][figure] if d in DATASETS]


def cka_figure_inputs(wildcards):
    return per_dataset(figure_datasets(wildcards.figure), tables=paper_pair_tables)


def sample_figure_inputs(wildcards):
    return per_dataset(
        figure_datasets("fig4"), dumps=dumps, data=data_file, shards=shard_files
    )


def table2_inputs(wildcards):
    return per_dataset(
        DATASETS, tables=paper_pair_tables, dumps=dumps, chance=chance_tables
    )


def claims_inputs(wildcards):
    return {
        **per_dataset(
            DATASETS,
            tables=compared_pair_tables,
            blocks=compared_block_tables,
            chance=chance_tables,
            dumps=dumps,
        ),
        "metrics": all_model_metrics(wildcards),
    }


def inr_summary(dataset):
    return [PATHS["inr_summary"].format(dataset=dataset)]


def overview_inputs(wildcards):
    return {
        **per_dataset(DATASETS, inrs=inr_summary),
        "accuracy": PATHS["table"].format(name="table1", ext="csv"),
        "claims": PATHS["table"].format(name="claims", ext="csv"),
    }


def overview_params(wildcards):
    return {
        "preset": config["preset"],
        "seeds": config["models"]["seeds"],
        "probe_size": config["activations"]["probe_size"],
        "estimator": config["cka"]["estimator"],
        "imported": {d: config["inr"]["imported"][d]["set"] for d in IMPORTED_DATASETS},
    }


def final_targets():
    figures = [
        PATHS["figure"].format(figure=name)
        for name in ("fig2", "fig3", "fig4")
        if figure_datasets(name)
    ]
    return [
        *expand(PATHS["inr_summary"], dataset=DATASETS),
        *expand(PATHS["inr_figure"], dataset=DATASETS),
        *expand(PATHS["training_curves"], dataset=DATASETS),
        *(
            PATHS["table"].format(name=name, ext="csv")
            for name in ("table1", "table2", "claims")
        ),
        *figures,
        *family_comparison_targets(),
        PATHS["overview"],
    ]


def family_comparison_targets():
    """The weight-space families side by side, in runs that train more than one of them."""
    families = [arch for arch in TRAINED_ARCHS if arch in weight_space_archs()]
    if len(families) < 2:
        return []
    return [
        PATHS["figure"].format(figure="families"),
        PATHS["table"].format(name="families", ext="csv"),
    ]


def family_comparison_inputs(wildcards):
    return {
        **per_dataset(DATASETS, tables=compared_pair_tables),
        "metrics": all_model_metrics(wildcards),
    }


def run_configfiles():
    """The config files of this run (the Snakefile's and --configfile), as absolute paths."""
    return [str(Path(p).resolve()) for p in workflow.configfiles]


def run_config_args():
    """This run's --config values as KEY=VALUE, values in JSON (which YAML, and gmnrep audit, read)."""
    return [f"{k}={json.dumps(v)}" for k, v in workflow.config_settings.config.items()]
