import json
import os
import sys
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
from gmnrep import dataset_file, pairs, shard_plan
from gmnrep.sources import SOURCES

_resolved = gmn_config.resolve(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    command_line=dict(workflow.config_settings.config),
)
config.clear()
config.update(_resolved)

RESULTS = config["results"]
LOGS = config["logs"]
RAW = config["raw_dir"]
DATASETS = config["datasets"]
ENV = "../../envs/gmnrep.yaml"
RAW_FILES = sorted({raw.name for s in SOURCES.values() for raw in s.files})

ARCHITECTURE_PATTERN = "|".join(config["models"]["architectures"])


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


def num_shards(dataset):
    return shard_plan.shard_count(
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


def inr_params(wildcards):
    inr = config["inr"]
    return {
        "recipe": inr["recipes"][inr["recipe"][wildcards.dataset]],
        "seed": inr["seed"],
        "shard_size": inr["shard_size"],
        "num_shards": num_shards(wildcards.dataset),
        "subset": inr["subset"],
        "subset_seed": inr["subset_seed"],
        "fit_batch_size": inr["fit_batch_size"],
        "device": inr["device"],
    }


def shard_files(dataset):
    return expand(
        f"{RESULTS}/inrs/{dataset}/shard-{{shard}}.h5", shard=range(num_shards(dataset))
    )


def inr_shard_files(wildcards):
    return shard_files(wildcards.dataset)


def inr_target_psnr(wildcards):
    inr = config["inr"]
    return inr["recipes"][inr["recipe"][wildcards.dataset]]["target_psnr"]


def model_resource(name):
    def resource(wildcards):
        return config["models"][wildcards.arch]["resources"].get(name, 0)

    return resource


def training_params(wildcards):
    models = config["models"]
    return {
        "dataset": wildcards.dataset,
        "arch": wildcards.arch,
        "seed": int(wildcards.seed),
        "network": models[wildcards.arch]["network"],
        "training": models[wildcards.arch]["training"],
        "device": models["device"],
    }


def all_model_metrics(wildcards):
    return expand(
        f"{RESULTS}/models/{{dataset}}/{{arch}}/seed-{{seed}}.metrics.json",
        dataset=DATASETS,
        arch=config["models"]["architectures"],
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


def model_ids(dataset, pattern):
    models = config["models"]
    return expand(
        pattern, dataset=dataset, arch=models["architectures"], seed=models["seeds"]
    )


def activation_dumps(datasets):
    """{dataset: [activation dumps of every model]}"""
    return {
        d: model_ids(d, f"{RESULTS}/activations/{{dataset}}/{{arch}}/seed-{{seed}}.h5")
        for d in datasets
    }


def cka_tables(datasets, scheme="cyclic"):
    """{dataset: [the CKA table of every model pair compared in `scheme`]}; cyclic: the paper's pairs"""
    models = config["models"]
    compared = pairs.model_pairs(models["architectures"], models["seeds"], scheme)
    return {
        d: [f"{RESULTS}/cka/{d}/{pairs.pair_name(pair)}.csv" for pair in compared]
        for d in datasets
    }


def chance_tables(datasets):
    """{dataset: [the chance-floor table of every model]}"""
    return {
        d: model_ids(d, f"{RESULTS}/cka/{{dataset}}/chance/{{arch}}-{{seed}}.csv")
        for d in datasets
    }


def flat(mapping):
    return [path for paths in mapping.values() for path in paths]


def figure_datasets(figure):
    return [d for d in config["figures"][figure] if d in DATASETS]


def figure_tables(wildcards):
    return cka_tables(figure_datasets(wildcards.figure))


def figure_table_files(wildcards):
    return flat(figure_tables(wildcards))


def sample_figure_inputs(wildcards):
    datasets = figure_datasets("fig4")
    return {
        "dumps": flat(activation_dumps(datasets)),
        "data": expand(f"{RESULTS}/data/{{dataset}}.h5", dataset=datasets),
        "shards": [shard for d in datasets for shard in shard_files(d)],
    }


def sample_figure_params(wildcards):
    datasets = figure_datasets("fig4")
    return {
        "dumps": activation_dumps(datasets),
        "data": {d: f"{RESULTS}/data/{d}.h5" for d in datasets},
        "shards": {d: shard_files(d) for d in datasets},
        "examples": config["figures"]["fig4_examples"],
    }


def table2_inputs(wildcards):
    return {
        "tables": flat(cka_tables(DATASETS)),
        "dumps": flat(activation_dumps(DATASETS)),
        "chance": flat(chance_tables(DATASETS)),
    }


def table2_params(wildcards):
    return {
        "tables": cka_tables(DATASETS),
        "dumps": activation_dumps(DATASETS),
        "chance": chance_tables(DATASETS),
        "layers": config["cka"]["figure_layers"],
    }


def claims_inputs(wildcards):
    return {
        "tables": flat(cka_tables(DATASETS, config["cka"]["pairs"])),
        "chance": flat(chance_tables(DATASETS)),
        "dumps": flat(activation_dumps(DATASETS)),
        "metrics": all_model_metrics(wildcards),
    }


def claims_params(wildcards):
    return {
        "tables": cka_tables(DATASETS, config["cka"]["pairs"]),
        "chance": chance_tables(DATASETS),
        "dumps": activation_dumps(DATASETS),
        "layers": config["cka"]["figure_layers"],
        "settings": config["claims"],
    }


def final_targets():
    figures = [
        f"{RESULTS}/figures/{name}.pdf"
        for name in ("fig2", "fig3", "fig4")
        if figure_datasets(name)
    ]
    return [
        *expand(f"{RESULTS}/inrs/{{dataset}}/summary.csv", dataset=DATASETS),
        f"{RESULTS}/tables/table1.csv",
        f"{RESULTS}/tables/table2.csv",
        f"{RESULTS}/tables/claims.csv",
        *figures,
    ]


def run_configfiles():
    """The config files of this run (the Snakefile's and --configfile), as absolute paths."""
    return [str(Path(p).resolve()) for p in workflow.configfiles]


def run_config_args():
    """This run's --config values as KEY=VALUE, values in JSON (which YAML, and gmnrep audit, read)."""
    return [f"{k}={json.dumps(v)}" for k, v in workflow.config_settings.config.items()]
