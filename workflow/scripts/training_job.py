"""What the training rules' scripts (train_model, train_matched) share: the training a job runs,
from its settings param and its files, and where it keeps its resume states."""

from pathlib import Path

from gmnrep.models.resume import ResumePlan
from gmnrep.models.training import TrainingJob


def training_job(snakemake) -> TrainingJob:
    return TrainingJob(
        **snakemake.params.settings,
        data_path=Path(snakemake.input.data),
        shard_paths=[Path(p) for p in snakemake.input.shards],
        model_path=Path(snakemake.output.model),
        metrics_path=Path(snakemake.output.metrics),
    )


def resume_plan(snakemake, fingerprint: str) -> ResumePlan:
    """Where the job whose fingerprint `recorded` yielded keeps its resume states
    (gmnrep.models.resume); how often is config models.resume_every, read here rather than given
    as a param: it changes no output, so changing it must not rerun a training."""
    return ResumePlan(Path(snakemake.output.model), fingerprint, snakemake.config["models"]["resume_every"])
