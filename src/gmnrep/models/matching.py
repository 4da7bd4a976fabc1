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
from dataclasses import replace
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


def train_matched(
    data_path: Path,
    shard_paths: list[Path],
    target_metrics: list[Path],
    model_path: Path,
    metrics_path: Path,
    *,
    dataset: str,
    arch: str,
    seed: int,
    network: dict,
    training: dict,
    target_arch: str,
    method: str,
    evaluate_every: int | None = None,
    subset_fractions: list[float] | None = None,
    device: str = "auto",
    resume: ResumePlan | None = None,
) -> dict:
    """Train the matched twin `arch` (e.g. 'mlpmatch') with `seed` by `method`, to the mean validation
    accuracy of the `target_arch` models of `target_metrics`, going on from the
    saved states of `resume` if there are any; write its checkpoint and metrics (train_and_save's,
    with `stop`: the target and how it was met), then remove the resume states."""
    target = target_accuracy(target_metrics, dataset, target_arch)
    if method == "steps":
        return train_and_save(
            data_path, shard_paths, model_path, metrics_path,
            dataset=dataset, arch=arch, seed=seed, network=network, training=training, device=device,
            target=AccuracyTarget(target, evaluate_every), resume=resume,
        )  # fmt: skip
    if method != "data":
        raise ValueError(f"unknown matching method {method!r}; known: steps, data")
    on = resolve_device(device)
    samples = load_samples(arch, data_path, shard_paths)
    kwargs = model_kwargs(arch, network, dataset, samples)
    settings = TrainingSettings(**training)
    result = closest_subset(arch, kwargs, samples, settings, seed, on, target, subset_fractions, resume)
    stop_rule = {"target_val_acc": target, "subset_fractions": list(subset_fractions)}
    metrics = save_training(
        result, samples, kwargs, model_path, metrics_path,
        dataset=dataset, arch=arch, seed=seed, network=network, training=training, device=on, stop_rule=stop_rule,
    )  # fmt: skip
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
