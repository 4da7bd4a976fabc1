"""Accuracy-matched image networks: the control that makes "at similar accuracy" true at any scale.

The paper finds GMN and image-network representations dissimilar despite similar accuracy. At
laptop scale the GMN is far less accurate than the image networks, so a low GMN-MLP CKA could mean
"a different representation" or just "a less trained one". The control: for each image
architecture X and seed, a twin "Xmatch" (gmnrep.models.registry.matched_arch) whose validation
accuracy is the mean validation accuracy of this run's GMNs (models.matched.target: another
weight-space architecture can be the target), each at its selected epoch. Two ways to get one
(config models.matched.method):

- steps: X's own training (seed, data order, settings), stopped at the first evaluation point,
  every `evaluate_every` optimizer steps, whose validation accuracy reaches the target.
  Evaluations draw no random numbers and run in eval mode, so the twin is X's training seen at
  that step. If X never reaches the target, the twin is X's converged model (stop.reached false).
- data: X trained as usual, but on a nested subset of the training samples, for as many optimizer
  steps as the full training (a smaller subset gets more epochs; the best validation epoch is
  kept); of the subsets in `subset_fractions`, the one whose validation accuracy is closest to the
  target.

They control for different things. An early-stopped network has the GMN's accuracy but has moved
least from its initialisation, in its later layers most; a data-limited one is converged, like the
GMN, on fewer samples. The default is steps: it lands within an evaluation's resolution of the
target, and costs a fraction of one training where the data method costs one training per subset
(docs/science.md, "The matched control", with both measured).
"""

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gmnrep.core.device import resolve_device
from gmnrep.core.errors import DataError
from gmnrep.data.splits import SPLIT_NAMES
from gmnrep.models.resume import ResumePlan
from gmnrep.models.samples import Samples, load_samples
from gmnrep.models.training import (
    AccuracyTarget,
    TrainingJob,
    TrainingResult,
    TrainingSettings,
    model_kwargs,
    save_training,
    train,
    train_and_save,
)


def target_accuracy(target_metrics: list[Path], dataset: str, target_arch: str) -> float:
    """Mean validation accuracy (a fraction) of the `target_arch` models whose metrics records are
    `target_metrics`."""
    if not target_metrics:
        raise DataError(f"no {target_arch} metrics of {dataset} to match the image networks' accuracy to")
    accuracies = []
    for path in target_metrics:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable metrics file ({exc})") from exc
        if not isinstance(record, dict) or record.get("arch") != target_arch or record.get("dataset") != dataset:
            raise DataError(f"{path}: not the metrics of a {target_arch} model of {dataset}")
        value = record.get("val_acc")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise DataError(f"{path}: val_acc is {value!r}, not a number in [0, 1]")
        accuracies.append(float(value))
    return float(np.mean(accuracies))


@dataclass(frozen=True)
class MatchingSettings:
    """config models.matched as a twin's training uses it: the architecture whose models' mean
    validation accuracy is the target, the method, and that method's setting (the other's is None)."""

    target_arch: str
    method: str
    evaluate_every: int | None = None
    subset_fractions: list[float] | None = None


def train_matched(
    job: TrainingJob, matching: MatchingSettings, target_metrics: list[Path], resume: ResumePlan | None = None
) -> dict:
    """Train the job's matched twin (its arch e.g. 'mlpmatch') by `matching`'s method, to the mean
    validation accuracy of the target models of `target_metrics`, going on from the saved states of
    `resume` if there are any; write its checkpoint and metrics (train_and_save's, with `stop`: the
    target and how it was met), then remove the resume states."""
    target = target_accuracy(target_metrics, job.dataset, matching.target_arch)
    if matching.method == "steps":
        return train_and_save(job, AccuracyTarget(target, matching.evaluate_every), resume)
    if matching.method != "data":
        raise ValueError(f"unknown matching method {matching.method!r}; known: steps, data")
    on = resolve_device(job.device)
    samples = load_samples(job.arch, job.data_path, job.shard_paths)
    kwargs = model_kwargs(job.arch, job.network, job.dataset, samples)
    settings = TrainingSettings(**job.training)
    fractions = matching.subset_fractions
    result = closest_subset(job.arch, kwargs, samples, settings, job.seed, on, target, fractions, resume)
    stop_rule = {"target_val_acc": target, "subset_fractions": list(fractions)}
    metrics = save_training(job, result, samples, kwargs, on, stop_rule)
    if resume is not None:
        resume.remove()
    return metrics


def closest_subset(
    arch: str,
    kwargs: dict,
    samples: Samples,
    settings: TrainingSettings,
    seed: int,
    device: torch.device,
    target: float,
    fractions: list[float],
    resume: ResumePlan | None = None,
) -> TrainingResult:
    """The training, among those on the nested training subsets of `fractions` of the training
    samples (each for the full training's number of optimizer steps), whose validation accuracy
    is closest to `target` (ties: the larger subset); its `stop` lists every subset tried. With
    `resume`, each subset's training keeps its own resume state."""
    num_train = int((samples.split == SPLIT_NAMES["train"]).sum())
    full_steps = settings.epochs * math.ceil(num_train / settings.batch_size)
    ladder, best = [], None
    for fraction in sorted(fractions):
        size = max(1, round(fraction * num_train))
        epochs = math.ceil(full_steps / math.ceil(size / settings.batch_size))
        part = resume and resume.for_part(f"{size}-samples")
        result = train(
            arch, kwargs, samples.with_training_subset(size, seed), replace(settings, epochs=epochs), seed, device,
            f"{arch}/seed-{seed}/{size} samples", resume=part,
        )  # fmt: skip
        chosen = result.history[result.best_epoch - 1]
        ladder.append(
            {"train_samples": size, "epochs": epochs, "val_acc": chosen["val_acc"], "test_acc": chosen["test_acc"]}
        )
        if best is None or abs(chosen["val_acc"] - target) <= abs(best[1]["val_acc"] - target):
            best = (result, ladder[-1])
    result, rung = best
    result.stop = {"method": "data", "target_val_acc": target, "train_samples": rung["train_samples"], "ladder": ladder}
    return result
