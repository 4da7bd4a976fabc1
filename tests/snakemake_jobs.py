"""The jobs Snakemake would run for a workflow, without running it: prints JSON
{job: {"rule": ..., "params": [...], "outputs": [...]}} for the workflow in the working directory,
with the given config files and values.

    python tests/snakemake_jobs.py SNAKEFILE CONFIG_JSON CONFIGFILE...

CONFIG_JSON holds the `--config` values ({} for none). The DAG is built as for a dry run, without
the dry run's simulated scheduling, which costs more than the DAG at paper scale. A job's params are
what Snakemake's metadata compares between runs ("Params have changed since last execution"): its
persistence layer's own serialisation of them, so the tests compare exactly what a rerun decision
would compare.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings


def dag_jobs(snakefile: Path, configfiles: list[Path], config: dict) -> dict[str, dict]:
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
            f"{job.rule.name}{dict(job.wildcards_dict)}": {
                "rule": job.rule.name,
                "params": workflow.persistence._params(job),
                "outputs": sorted(map(str, job.output)),
            }
            for job in workflow.dag.needrun_jobs()
        }


if __name__ == "__main__":
    snakefile, config, *configfiles = sys.argv[1:]
    json.dump(dag_jobs(Path(snakefile), [Path(p) for p in configfiles], json.loads(config)), sys.stdout)
