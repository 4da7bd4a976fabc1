"""The params Snakemake would store for every job of a run, without running it: prints JSON
{job: params} for the workflow in the working directory, with the given config files and values.

    python tests/snakemake_params.py SNAKEFILE CONFIG_JSON CONFIGFILE...

CONFIG_JSON holds the `--config` values ({} for none). The params are what Snakemake's metadata
compares between runs ("Params have changed since last execution"): its persistence layer's own
serialisation of the job's params, taken from a DAG built as for a dry run, so the tests compare
exactly what a rerun decision would compare.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def job_params(snakefile: Path, configfiles: list[Path], config: dict) -> dict[str, list]:
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=configfiles, config=config),
            snakefile=snakefile,
            workdir=Path.cwd(),
        )
        workflow_api.dag(DAGSettings())
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True)
        workflow._build_dag()
        return {
            f"{job.rule.name}{dict(job.wildcards_dict)}": workflow.persistence._params(job) for job in workflow.dag.jobs
        }


if __name__ == "__main__":
    snakefile, config, *configfiles = sys.argv[1:]
    json.dump(job_params(Path(snakefile), [Path(p) for p in configfiles], json.loads(config)), sys.stdout)
