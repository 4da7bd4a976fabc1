"""The accuracy-matched image networks (gmnrep.models.matching): on tiny data written with the real
writers (test_training's), and in the smoke run."""

import json

import numpy as np
import pytest
import torch

from conftest import run
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file
from gmnrep.data.splits import TEST, TRAIN, VAL
from gmnrep.inr import shards
from gmnrep.models import checkpoints, matching, training
from gmnrep.models.samples import load_samples
from gmnrep.paper import model_metrics
from test_training import DATASET, NETWORKS, TRAINING, make_shard, rows_of

pytestmark = pytest.mark.usefixtures("one_thread")
RESULTS = "results/smoke"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return learnable_data(tmp_path_factory.mktemp("learnable"))


def learnable_data(root):
    """Like test_training's tiny data, but learnable (a class is a brightness, with noise), so that
    validation accuracy rises during the training: (data path, [shard paths], the data, [the shards])."""
    rng = np.random.default_rng(3)
    labels = np.tile(np.arange(10), 12)
    noise = rng.integers(-12, 13, size=(len(labels), 8, 8))
    images = np.clip(labels[:, None, None] * 25 + 8 + noise, 0, 255).astype(np.uint8)
    split = rng.permutation(np.repeat(np.array([TRAIN, VAL, TEST], np.uint8), [80, 20, 20]))
    data = dataset_file.LabelledImages(images, labels.astype(np.int64), split)
    data_path = root / "digits.h5"
    dataset_file.write(data_path, data, {"dataset": DATASET})
    parts = [make_shard(data, np.arange(0, 60), seed=1), make_shard(data, np.arange(60, 120), seed=2)]
    paths = [root / "shard-0.h5", root / "shard-1.h5"]
    for path, part in zip(paths, parts):
        shards.write(path, part)
    return data_path, paths, data, parts


def gmn_metrics(folder, *val_accs, dataset=DATASET):
    paths = []
    for seed, val_acc in enumerate(val_accs):
        paths.append(folder / f"gmn-{seed}.metrics.json")
        paths[-1].write_text(json.dumps({"dataset": dataset, "arch": "gmn", "seed": seed, "val_acc": val_acc}))
    return paths


def train_matched(tiny, out, target_paths, name="match", arch="mlpmatch", **method):
    data_path, shard_paths, _, _ = tiny
    model_path, metrics_path = out / f"{name}.pt", out / f"{name}.json"
    job = training.TrainingJob(
        dataset=DATASET,
        arch=arch,
        seed=0,
        network=NETWORKS[arch.removesuffix("match")],
        training=TRAINING,
        data_path=data_path,
        shard_paths=shard_paths,
        model_path=model_path,
        metrics_path=metrics_path,
        device="cpu",
    )
    settings = matching.MatchingSettings(target_arch="gmn", **({"method": "steps", "evaluate_every": 1} | method))
    metrics = matching.train_matched(job, settings, target_paths)
    return model_path, metrics


def converged_history(tiny, out, arch):
    data_path, shard_paths, _, _ = tiny
    job = training.TrainingJob(
        dataset=DATASET, arch=arch, seed=0, network=NETWORKS[arch], training=TRAINING,
        data_path=data_path, shard_paths=shard_paths, model_path=out / "full.pt", metrics_path=out / "full.json",
        device="cpu",
    )  # fmt: skip
    return training.train_and_save(job)["history"]


def first_record_after_step_1(tiny, tmp_path, arch):
    """(step, validation accuracy) of the first evaluation after step 1 that beats every earlier
    one, from a matched training whose target is never reached (every step evaluated)."""
    _, metrics = train_matched(tiny, tmp_path, gmn_metrics(tmp_path, 1.0), name="trace", arch=arch)
    evaluations = metrics["stop"]["evaluations"]
    for i, (step, acc) in enumerate(evaluations[1:], start=1):
        if acc > max(a for _, a in evaluations[:i]):
            return step, acc
    raise AssertionError(f"the tiny training's validation accuracy never rises after step 1: {evaluations}")


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_a_matched_network_stops_at_the_first_step_that_reaches_the_gmns_mean(tiny, tmp_path, arch):
    step, accuracy = first_record_after_step_1(tiny, tmp_path, f"{arch}match")
    targets = gmn_metrics(tmp_path, accuracy, accuracy)
    model_path, metrics = train_matched(tiny, tmp_path, targets, arch=f"{arch}match")
    stop = metrics["stop"]
    assert stop["method"] == "steps" and stop["target_val_acc"] == accuracy and stop["reached"]
    assert stop["step"] == step > 1
    assert [s for s, _ in stop["evaluations"]] == list(range(1, step + 1))  # every optimizer step evaluated
    assert all(acc < accuracy for _, acc in stop["evaluations"][:-1])
    assert stop["evaluations"][-1][1] == metrics["val_acc"] >= accuracy
    # the checkpoint is the model of that step: its validation accuracy is the recorded one
    model, payload = checkpoints.load(model_path)
    assert payload["arch"] == f"{arch}match" and payload["info"]["best_epoch"] == metrics["best_epoch"]
    samples = load_samples(f"{arch}match", *tiny[:2])
    _, val_acc = training.evaluate(model, samples, rows_of(samples, "val"), 8)
    assert val_acc == metrics["val_acc"]
    assert metrics["history"][-1]["step"] == step and len(metrics["history"]) == metrics["best_epoch"]
    again, _ = train_matched(tiny, tmp_path, targets, name="again", arch=f"{arch}match")
    assert again.read_bytes() == model_path.read_bytes()


def test_evaluations_every_k_steps_land_on_multiples_of_k(tiny, tmp_path):
    _, metrics = train_matched(tiny, tmp_path, gmn_metrics(tmp_path, 1.0), evaluate_every=3)
    assert [step for step, _ in metrics["stop"]["evaluations"]] == list(range(3, 41, 3))  # 4 epochs x 10 steps


def test_a_target_never_reached_keeps_the_converged_model_and_says_so(tiny, tmp_path):
    _, metrics = train_matched(tiny, tmp_path, gmn_metrics(tmp_path, 1.0, 1.0))
    converged = converged_history(tiny, tmp_path, "mlp")
    assert metrics["stop"]["reached"] is False and metrics["stop"]["step"] is None
    assert metrics["history"] == converged  # the whole training, the best epoch kept
    assert all(acc < 1.0 for _, acc in metrics["stop"]["evaluations"])


def test_the_data_method_keeps_the_nested_subset_closest_to_the_target(tiny, tmp_path):
    fractions = [0.05, 0.25, 1.0]
    full = converged_history(tiny, tmp_path, "mlp")
    target = max(r["val_acc"] for r in full)  # the full training set's accuracy: the last rung
    model_path, metrics = train_matched(
        tiny, tmp_path, gmn_metrics(tmp_path, target), method="data", subset_fractions=fractions
    )
    stop = metrics["stop"]
    assert stop["method"] == "data" and [r["train_samples"] for r in stop["ladder"]] == [4, 20, 80]
    # each rung gets at least the full training's 40 optimizer steps (4 epochs x 10 batches of 8):
    # 4 samples, 1 batch per epoch: 40 epochs; 20 samples, 3 batches: 14 epochs
    assert [r["epochs"] for r in stop["ladder"]] == [40, 14, 4]
    distance = [abs(r["val_acc"] - target) for r in stop["ladder"]]
    chosen = max(i for i, d in enumerate(distance) if d == min(distance))
    assert stop["train_samples"] == stop["ladder"][chosen]["train_samples"]
    assert (
        metrics["val_acc"] == stop["ladder"][chosen]["val_acc"] and metrics["samples"]["train"] == stop["train_samples"]
    )
    assert stop["ladder"][-1]["val_acc"] == target  # all 80 samples: the converged training itself
    again, _ = train_matched(
        tiny, tmp_path, gmn_metrics(tmp_path, target), name="again", method="data", subset_fractions=fractions
    )
    assert again.read_bytes() == model_path.read_bytes()


def test_nested_training_subsets_grow_with_their_size_and_leave_the_other_splits(tiny):
    samples = load_samples("mlp", *tiny[:2])
    small, large = (samples.with_training_subset(n, seed=0) for n in (10, 30))
    train_code = 0
    assert set(np.flatnonzero(small.split == train_code)) < set(np.flatnonzero(large.split == train_code))
    for subset in (small, large):
        assert np.array_equal(subset.split == 1, samples.split == 1) and np.array_equal(
            subset.split == 2, samples.split == 2
        )
    other_seed = samples.with_training_subset(10, seed=1)
    assert not np.array_equal(other_seed.split, small.split)
    with pytest.raises(ValueError, match="a training subset of 81 samples out of 80"):
        samples.with_training_subset(81, seed=0)


@pytest.mark.parametrize(
    "record, message",
    [
        ({"dataset": DATASET, "arch": "mlp", "seed": 0, "val_acc": 0.5}, "not the metrics of a gmn model of digits"),
        ({"dataset": "mnist", "arch": "gmn", "seed": 0, "val_acc": 0.5}, "not the metrics of a gmn model of digits"),
        ({"dataset": DATASET, "arch": "gmn", "seed": 0, "val_acc": float("nan")}, "val_acc is nan"),
        ({"dataset": DATASET, "arch": "gmn", "seed": 0}, "val_acc is None"),
    ],
)
def test_targets_from_anything_but_gmn_validation_accuracies_are_refused(tmp_path, record, message):
    good = gmn_metrics(tmp_path, 0.5)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    with pytest.raises(DataError, match=message) as info:
        matching.target_accuracy([*good, bad], DATASET, "gmn")
    assert str(bad) in str(info.value)
    with pytest.raises(DataError, match="no gmn metrics"):
        matching.target_accuracy([], DATASET, "gmn")


def test_the_smoke_runs_matched_networks_reach_their_target_first_and_rerun_byte_identically(smoke_run, tmp_path):
    models = smoke_run.workdir / RESULTS / "models"
    for dataset_dir in models.iterdir():
        gmns = [model_metrics.read_metrics(p) for p in sorted((dataset_dir / "gmn").glob("*.metrics.json"))]
        target = sum(r["val_acc"] for r in gmns) / len(gmns)
        twins = sorted((dataset_dir / "cnnmatch").glob("*.metrics.json"))
        assert len(twins) == 2, dataset_dir  # the smoke preset's twin, seeds 0 and 1
        for path in twins:
            stop = model_metrics.read_metrics(path)["stop"]
            assert stop["target_val_acc"] == pytest.approx(target), path
            accuracies = [acc for _, acc in stop["evaluations"]]
            if stop["reached"]:
                assert accuracies[-1] >= target > max(accuracies[:-1], default=-1), path
            else:
                assert max(accuracies) < target, path
    workdir = smoke_run.copy(tmp_path / "run")
    target = f"{RESULTS}/models/digits/cnnmatch/seed-1.pt"
    run(smoke_run.args("--cores", "1", "--forcerun", target, "--until", target, directory=workdir), cwd=workdir)
    assert (workdir / target).read_bytes() == (smoke_run.workdir / target).read_bytes()
    assert torch.load(workdir / target, weights_only=True)["arch"] == "cnnmatch"
