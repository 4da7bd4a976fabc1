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
from gmnrep import dataset_file, shards
from gmnrep.checkpoints import ARCHITECTURES
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


wildcard_constraints:
    dataset="|".join(SOURCES),
    shard=r"\d+",
    arch="|".join(ARCHITECTURES),
    seed=r"\d+",
    filename="|".join(RAW_FILES).replace(".", r"\."),


def num_shards(dataset):
    return shards.shard_count(
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


def inr_shard_files(wildcards):
    return expand(
        f"{RESULTS}/inrs/{wildcards.dataset}/shard-{{shard}}.h5",
        shard=range(num_shards(wildcards.dataset)),
    )


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


def final_targets():
    return [
        *expand(f"{RESULTS}/inrs/{{dataset}}/summary.csv", dataset=DATASETS),
        f"{RESULTS}/tables/table1.csv",
    ]
