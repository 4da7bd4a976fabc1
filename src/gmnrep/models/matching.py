"""Accuracy-matched image networks: the control that makes "at similar accuracy" true at any scale.

The paper finds GMN and image-network representations dissimilar despite similar accuracy. At
laptop scale the GMN is far less accurate than the image networks, so a low GMN-MLP CKA could mean
"a different representation" or just "a less trained one". The control: for each image
architecture X and seed, a twin "Xmatch" (gmnrep.representations.pairs.matched_arch) that runs X's
training exactly (seed, data order, settings) and stops at the first evaluation point, every
`evaluate_every` optimizer steps, whose validation accuracy reaches the mean validation accuracy
of this run's GMNs (each at its own selected epoch). Evaluations draw no random numbers and run in
eval mode, so the twin is X's own training seen at that step.

What this controls for is the level of performance, not the way it is reached: an early-stopped
network has moved least from its initialisation in its later layers, while the GMN is trained to
convergence on fewer effective samples. A data-limited twin (converged on a nested subset chosen
for its accuracy) is the other control; it is not built (docs/science.md says why and what it costs).
If X never reaches the target, the twin is X's converged model and its metrics say so
(stop.reached false); the claims then judge the gap as for the converged networks.
"""

import json
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.models.training import AccuracyTarget, train_and_save


def target_accuracy(gmn_metrics: list[Path], dataset: str) -> float:
    """Mean validation accuracy (a fraction) of the GMNs whose metrics records are `gmn_metrics`."""
    if not gmn_metrics:
        raise DataError(f"no GMN metrics of {dataset} to match the image networks' accuracy to")
    accuracies = []
    for path in gmn_metrics:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable metrics file ({exc})") from exc
        if not isinstance(record, dict) or record.get("arch") != "gmn" or record.get("dataset") != dataset:
            raise DataError(f"{path}: not the metrics of a GMN of {dataset}")
        value = record.get("val_acc")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise DataError(f"{path}: val_acc is {value!r}, not a number in [0, 1]")
        accuracies.append(float(value))
    return float(np.mean(accuracies))


def train_matched(
    data_path: Path,
    shard_paths: list[Path],
    gmn_metrics: list[Path],
    model_path: Path,
    metrics_path: Path,
    *,
    dataset: str,
    arch: str,
    seed: int,
    network: dict,
    training: dict,
    evaluate_every: int,
    device: str = "auto",
) -> dict:
    """Train the matched twin `arch` (e.g. 'mlpmatch') with `seed`; write its checkpoint and metrics
    (train_and_save's, with `stop`: the target, whether and at which step it was reached)."""
    target = AccuracyTarget(target_accuracy(gmn_metrics, dataset), evaluate_every)
    return train_and_save(
        data_path,
        shard_paths,
        model_path,
        metrics_path,
        dataset=dataset,
        arch=arch,
        seed=seed,
        network=network,
        training=training,
        device=device,
        target=target,
    )
