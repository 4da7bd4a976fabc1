"""training.py and checkpoints.py on tiny data written with the real writers: a dataset file of
random 8x8 images and two INR shards of small random 2 -> 8 -> 8 -> 1 SIRENs pointing into it."""

import json

import numpy as np
import pytest
import torch

from conftest import random_images
from gmnrep.core.errors import DataError
from gmnrep.data import dataset_file
from gmnrep.data.splits import SPLIT_NAMES, TEST, TRAIN, VAL
from gmnrep.inr import shards
from gmnrep.models import checkpoints, registry, training
from gmnrep.models.architectures import WEIGHTS
from gmnrep.models.gmn import GMN
from gmnrep.models.image_models import CNN, MLP
from gmnrep.models.samples import Samples, load_samples

SIREN = (2, 8, 8, 1)
NUM_IMAGES = 60
DATASET = "digits"  # 10 classes, 8x8 grey images
# First shard, second shard; a few images of the file are in neither, and the order is not sorted.
SHARD_ROWS = (24, 22)
NETWORKS = {
    "gmn": {
        "hidden": 8,
        "blocks": 2,
        "encoder": "linear",
        "readout": "nodes",
        "pooling": "mean",
        "head_hidden": 8,
        "head_layers": 1,
        "dropout": 0.3,
        "block_dropout": 0.0,
        "form": "dense",
    },
    "mlp": {"hidden": [16, 16], "penultimate": 8, "dropout": 0.3},
    "cnn": {"channels": [4, 4], "penultimate": 8, "dropout": 0.3},
    "nfnnp": {
        "hchannels": [4, 4],
        "fourier_features": 4,
        "fourier_scale": 10.0,
        "io_bands": 2,
        "io_max_freq": 10.0,
        "head_hidden": 8,
        "dropout": 0.3,
    },
    "statnn": {"hidden": [8, 8], "dropout": 0.3},
    "flatmlp": {"hidden": 8, "blocks": 2, "batch_norm": True},
}
pytestmark = pytest.mark.usefixtures("one_thread")
TRAINING = {"epochs": 4, "batch_size": 8, "lr": 1e-2, "weight_decay": 0.01}


def random_weights(n: int, sizes=SIREN, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(0, 0.5, (n, fan_out, fan_in)).astype(np.float32),
            rng.normal(0, 0.1, (n, fan_out)).astype(np.float32),
        )
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]


def make_shard(data: dataset_file.LabelledImages, image_index: np.ndarray, sizes=SIREN, seed: int = 0) -> shards.Shard:
    n = len(image_index)
    return shards.Shard(
        weights=random_weights(n, sizes, seed),
        image_index=image_index.astype(np.int64),
        label=data.labels[image_index],
        split=data.split[image_index],
        psnr=np.full(n, 40.0, np.float32),
        steps=np.full(n, 10, np.int64),
        attrs={"layer_sizes": list(sizes), "seed": seed},
    )


def random_dataset(seed: int = 0) -> dataset_file.LabelledImages:
    rng = np.random.default_rng(seed)
    split = rng.permutation(np.repeat(np.array([TRAIN, VAL, TEST], np.uint8), [36, 12, 12]))
    labels = rng.integers(0, 10, NUM_IMAGES).astype(np.int64)
    return dataset_file.LabelledImages(random_images(NUM_IMAGES, seed=seed), labels, split)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A dataset file and two shards: (data path, [shard paths], the data, [the shards])."""
    root = tmp_path_factory.mktemp("tiny")
    data = random_dataset()
    data_path = root / "digits.h5"
    dataset_file.write(data_path, data, {"dataset": DATASET})
    order = np.random.default_rng(1).permutation(NUM_IMAGES)
    first, second = order[: SHARD_ROWS[0]], order[SHARD_ROWS[0] : sum(SHARD_ROWS)]
    parts = [make_shard(data, first, seed=1), make_shard(data, second, seed=2)]
    paths = [root / "shard-0.h5", root / "shard-1.h5"]
    for path, part in zip(paths, parts):
        shards.write(path, part)
    for code in SPLIT_NAMES.values():  # every split has samples in the shards
        assert (np.concatenate([p.split for p in parts]) == code).sum() >= 3
    return data_path, paths, data, parts


def train(tiny, out, arch, seed=0, network=None, training_settings=None, name="model"):
    data_path, shard_paths, _, _ = tiny
    model_path, metrics_path = out / f"{name}.pt", out / f"{name}.json"
    metrics = training.train_and_save(
        training.TrainingJob(
            dataset=DATASET,
            arch=arch,
            seed=seed,
            network=network or NETWORKS[arch],
            training=training_settings or TRAINING,
            data_path=data_path,
            shard_paths=shard_paths,
            model_path=model_path,
            metrics_path=metrics_path,
            device="cpu",
        )
    )
    return model_path, metrics_path, metrics


def rows_of(samples: Samples, split: str) -> torch.Tensor:
    return torch.from_numpy(np.flatnonzero(samples.split == SPLIT_NAMES[split]))


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["gmn", "mlp", "cnn", "nfnnp", "statnn", "flatmlp"])
def test_same_seed_gives_identical_checkpoints_and_another_seed_does_not(tiny, tmp_path, arch):
    # dropout draws random numbers: they must be seeded too (the flat MLP has none; its BatchNorm's
    # statistics depend on the seeded batch order)
    assert NETWORKS[arch].get("dropout", 1) > 0
    first, _, _ = train(tiny, tmp_path, arch, seed=3, name="a")
    again, _, _ = train(tiny, tmp_path, arch, seed=3, name="b")
    other, _, _ = train(tiny, tmp_path, arch, seed=4, name="c")
    assert first.read_bytes() == again.read_bytes()
    states = [torch.load(p, weights_only=True)["state_dict"] for p in (first, again, other)]
    assert states[0].keys() == states[1].keys() == states[2].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    assert any(
        not torch.equal(states[0][key], states[2][key]) for key in states[0] if states[0][key].is_floating_point()
    )
    assert first.read_bytes() != other.read_bytes()


REFERENCE_TRAINING = {  # every training option of the reference metanetworks at once
    **TRAINING,
    "warmup_steps": 5,
    "schedule": "cosine",
    "clip_grad_norm": 1.0,
    "augmentation": {"rotation_deg": 20.0, "scale": 0.1, "translation": 0.1, "noise": 0.05},
}


def test_gmn_with_warmup_schedule_clipping_and_augmentation_is_seeded(tiny, tmp_path):
    network = {**NETWORKS["gmn"], "encoder": "rff", "readout": "output", "head_layers": 2, "block_dropout": 0.2}
    first, _, _ = train(tiny, tmp_path, "gmn", seed=3, network=network, training_settings=REFERENCE_TRAINING, name="a")
    again, _, _ = train(tiny, tmp_path, "gmn", seed=3, network=network, training_settings=REFERENCE_TRAINING, name="b")
    plain, _, _ = train(tiny, tmp_path, "gmn", seed=3, network=network, name="c")
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != plain.read_bytes()


def test_learning_rate_warms_up_linearly_then_follows_the_schedule():
    settings = training.TrainingSettings(epochs=1, batch_size=1, lr=1.0, weight_decay=0.0, warmup_steps=4)
    assert [settings.lr_factor(s, 100) for s in range(6)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    cosine = training.TrainingSettings(epochs=1, batch_size=1, lr=1.0, weight_decay=0.0, schedule="cosine")
    assert [cosine.lr_factor(s, 100) for s in (0, 50, 100)] == pytest.approx([1.0, 0.5, 0.0])


# --- model selection and metrics -------------------------------------------------------------


@pytest.mark.parametrize("arch", ["gmn", "mlp"])
def test_metrics_report_the_epoch_of_best_validation_accuracy(tiny, tmp_path, arch):
    _, metrics_path, returned = train(tiny, tmp_path, arch, training_settings={**TRAINING, "epochs": 6})
    metrics = json.loads(metrics_path.read_text())
    assert metrics == returned
    history = metrics["history"]
    assert [r["epoch"] for r in history] == list(range(1, 7))
    for record in history:
        for split in ("train", "val", "test"):
            assert 0.0 <= record[f"{split}_acc"] <= 1.0
            assert np.isfinite(record[f"{split}_loss"]) and record[f"{split}_loss"] >= 0.0
    # highest val_acc; among those, the lowest val_loss (then the earliest)
    best = min(history, key=lambda r: (-r["val_acc"], r["val_loss"], r["epoch"]))
    assert metrics["best_epoch"] == best["epoch"]
    assert metrics["test_acc"] == best["test_acc"]
    assert metrics["val_acc"] == best["val_acc"]
    assert metrics["dataset"] == DATASET and metrics["arch"] == arch and metrics["seed"] == 0
    assert metrics["device"] == "cpu"
    assert "wall_time_s" not in metrics  # timing lives in the log, so equal trainings give equal files
    assert metrics["training"] == {**TRAINING, "epochs": 6}
    assert metrics["num_parameters"] > 0
    split = np.concatenate([s.split for s in tiny[3]])
    assert metrics["samples"] == {name: int((split == code).sum()) for name, code in SPLIT_NAMES.items()}


@pytest.mark.parametrize("arch", ["mlp", "gmn"])
def test_selection_prefers_lower_validation_loss_among_equal_accuracies(tiny, tmp_path, arch):
    # A small lr on random labels: every epoch ties on val_acc while val_loss drifts (down for
    # this MLP, so the last epoch wins; up for this GMN, so the first does).
    _, _, metrics = train(
        tiny,
        tmp_path,
        arch,
        network={**NETWORKS[arch], "dropout": 0.0},
        training_settings={**TRAINING, "lr": 1e-4, "epochs": 6},
    )
    history = metrics["history"]
    assert len({r["val_acc"] for r in history}) == 1, "precondition: all epochs tie on val_acc"
    assert len({r["val_loss"] for r in history}) == len(history), "precondition: val_loss differs"
    best = min(history, key=lambda r: r["val_loss"])
    assert metrics["best_epoch"] == best["epoch"]
    assert metrics["test_acc"] == best["test_acc"]


def test_checkpoint_is_the_selected_epochs_model(tiny, tmp_path):
    model_path, _, metrics = train(tiny, tmp_path, "gmn", training_settings={**TRAINING, "epochs": 6})
    model, payload = checkpoints.load(model_path)
    assert payload["arch"] == "gmn" and payload["info"]["best_epoch"] == metrics["best_epoch"]
    samples = load_samples("gmn", tiny[0], tiny[1])
    best = metrics["history"][metrics["best_epoch"] - 1]
    for split in ("val", "test"):
        loss, acc = training.evaluate(model, samples, rows_of(samples, split), batch_size=8)
        assert acc == best[f"{split}_acc"]
        assert loss == pytest.approx(best[f"{split}_loss"], rel=1e-5)


# --- failures leave nothing behind -----------------------------------------------------------


@pytest.mark.parametrize("arch", ["gmn", "mlp", "cnn"])
def test_non_finite_loss_raises_and_writes_nothing(tiny, tmp_path, arch):
    # AdamW moves every weight by about lr in the first step: the next batch's logits overflow.
    with pytest.raises(FloatingPointError) as info:
        train(tiny, tmp_path, arch, seed=7, training_settings={**TRAINING, "lr": 1e30})
    assert f"{DATASET}/{arch}/seed-7" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # neither checkpoint nor metrics, nor a temporary


@pytest.mark.parametrize("arch", ["gmn", "mlp"])
def test_divergence_in_the_last_step_raises_and_writes_nothing(tiny, tmp_path, arch):
    # One epoch of one batch: the only training loss is finite, the step after it overflows.
    settings = {**TRAINING, "lr": 1e30, "epochs": 1, "batch_size": NUM_IMAGES}
    try:
        _, _, metrics = train(tiny, tmp_path, arch, training_settings=settings)
    except FloatingPointError as exc:
        assert f"{DATASET}/{arch}/seed-0" in str(exc)
    else:
        losses = [r[f"{s}_loss"] for r in metrics["history"] for s in ("train", "val", "test")]
        assert all(np.isfinite(losses)), f"no error, but losses {losses} were written"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_split_is_refused(tiny, tmp_path):
    _, _, data, parts = tiny
    no_val = []
    for k, part in enumerate(parts):
        keep = part.split != VAL
        path = tmp_path / f"no-val-{k}.h5"
        shards.write(path, make_shard(data, part.image_index[keep], seed=k))
        no_val.append(path)
    for arch in ("gmn", "mlp"):
        with pytest.raises(DataError, match="no val samples"):
            training.train_and_save(
                training.TrainingJob(
                    dataset=DATASET,
                    arch=arch,
                    seed=0,
                    network=NETWORKS[arch],
                    training=TRAINING,
                    data_path=tiny[0],
                    shard_paths=no_val,
                    model_path=tmp_path / "m.pt",
                    metrics_path=tmp_path / "m.json",
                    device="cpu",
                )
            )
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.json").exists()


def test_no_shards_is_refused(tiny):
    with pytest.raises(DataError, match="no INR shards"):
        load_samples("mlp", tiny[0], [])


# --- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_round_trip_gives_the_same_logits(tmp_path):
    weights = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in random_weights(5)]
    images = torch.from_numpy(random_images(5))
    torch.manual_seed(0)
    models = {
        "gmn": (GMN(SIREN, 10, hidden=8, blocks=2, head_hidden=8, dropout=0.5), {"layer_sizes": SIREN}, weights),
        "mlp": (MLP((8, 8), 10, hidden=(16, 16), penultimate=8, dropout=0.5), {"image_shape": (8, 8)}, images),
        "cnn": (CNN((8, 8), 10, channels=(4, 4), penultimate=8, dropout=0.5), {"image_shape": (8, 8)}, images),
    }
    models["gmn"][0].set_input_statistics(weights)  # a buffer, not a parameter: it must travel too
    settings = {
        "gmn": {"hidden": 8, "blocks": 2, "head_hidden": 8, "dropout": 0.5},
        "mlp": {"hidden": (16, 16), "penultimate": 8, "dropout": 0.5},
        "cnn": {"channels": (4, 4), "penultimate": 8, "dropout": 0.5},
    }
    for arch, (model, shape_kwargs, inputs) in models.items():
        kwargs = {**settings[arch], **shape_kwargs, "num_classes": 10}
        path = tmp_path / f"{arch}.pt"
        checkpoints.save(path, arch, kwargs, model.state_dict(), {"seed": 0})
        loaded, payload = checkpoints.load(path)
        assert type(loaded) is type(model) and not loaded.training
        assert payload["model_kwargs"] == kwargs and payload["info"] == {"seed": 0}
        # the same settings in another key order (another layering of the config) give the same bytes
        reordered = tmp_path / f"{arch}-reordered.pt"
        checkpoints.save(reordered, arch, dict(reversed(kwargs.items())), model.state_dict(), {"seed": 0})
        assert reordered.read_bytes() == path.read_bytes()
        with torch.no_grad():
            expected = model.eval()(inputs)
            assert torch.equal(loaded(inputs), expected)
            assert torch.equal(loaded(inputs), expected)  # eval mode: no dropout, same logits every call


def test_corrupt_checkpoints_are_refused_naming_the_file(tiny, tmp_path):
    model_path, _, _ = train(tiny, tmp_path, "mlp")
    content = model_path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(content[: len(content) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (truncated, garbage, empty, tmp_path / "missing.pt"):
        with pytest.raises(DataError, match="not a readable checkpoint") as info:
            checkpoints.load(path)
        assert str(path) in str(info.value)
    payload = torch.load(model_path, weights_only=True)
    other_version = tmp_path / "v99.pt"
    torch.save({**payload, "format_version": 99}, other_version)
    with pytest.raises(DataError, match="checkpoint format 99") as info:
        checkpoints.load(other_version)
    assert str(other_version) in str(info.value)


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture 'rnn'"):
        registry.build("rnn", {})


# --- samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_image_samples_are_the_shards_images_in_shard_order(tiny, arch):
    data_path, paths, data, parts = tiny
    samples = load_samples(arch, data_path, paths)
    index = np.concatenate([p.image_index for p in parts])
    assert not np.array_equal(index, np.sort(index))  # the order is the shards', not the file's
    np.testing.assert_array_equal(samples.image_index, index)
    assert samples.inputs.dtype == torch.uint8
    np.testing.assert_array_equal(samples.inputs.numpy(), data.images[index])
    np.testing.assert_array_equal(samples.labels.numpy(), data.labels[index])
    assert samples.labels.dtype == torch.int64
    np.testing.assert_array_equal(samples.split, data.split[index])


def test_gmn_samples_are_the_shards_weights(tiny):
    data_path, paths, data, parts = tiny
    samples = load_samples("gmn", data_path, paths)
    assert len(samples.inputs) == len(SIREN) - 1
    for i, (w, b) in enumerate(samples.inputs):
        np.testing.assert_array_equal(w.numpy(), np.concatenate([p.weights[i][0] for p in parts]))
        np.testing.assert_array_equal(b.numpy(), np.concatenate([p.weights[i][1] for p in parts]))
    index = np.concatenate([p.image_index for p in parts])
    np.testing.assert_array_equal(samples.labels.numpy(), data.labels[index])
    np.testing.assert_array_equal(samples.split, data.split[index])
    rows = torch.tensor([3, 0, 30])
    taken = samples.take(rows)
    for (w, b), (tw, tb) in zip(samples.inputs, taken):
        assert torch.equal(tw, w[rows]) and torch.equal(tb, b[rows])


def test_labels_disagreeing_with_the_shards_are_refused(tiny, tmp_path):
    _, paths, data, parts = tiny
    labels = data.labels.copy()
    row = parts[1].image_index[5]
    labels[row] = (labels[row] + 1) % 10
    relabelled = tmp_path / "relabelled.h5"
    dataset_file.write(relabelled, dataset_file.LabelledImages(data.images, labels, data.split), {})
    for arch in ("mlp", "cnn"):
        with pytest.raises(DataError, match="labels differ") as info:
            load_samples(arch, relabelled, paths)
        assert str(relabelled) in str(info.value)


def test_shards_pointing_past_the_dataset_are_refused(tiny, tmp_path):
    _, paths, data, _ = tiny
    short = tmp_path / "short.h5"
    n = NUM_IMAGES // 2
    dataset_file.write(short, dataset_file.LabelledImages(data.images[:n], data.labels[:n], data.split[:n]), {})
    with pytest.raises(DataError, match=f"has {n} images") as info:
        load_samples("mlp", short, paths)
    assert str(short) in str(info.value)


@pytest.mark.parametrize("other_sizes", [(2, 16, 16, 1), (2, 8, 1), (2, 8, 8, 3)])
def test_shards_of_different_siren_architectures_are_refused(tiny, tmp_path, other_sizes):
    data_path, paths, data, _ = tiny
    other = tmp_path / "other.h5"
    shards.write(other, make_shard(data, np.arange(50, 56), sizes=other_sizes))
    for arch in ("gmn", "mlp"):
        with pytest.raises(DataError, match="different architectures") as info:
            load_samples(arch, data_path, [paths[0], other])
        assert str(other) in str(info.value)


# --- model construction and representations --------------------------------------------------


def test_model_kwargs_of_each_architecture(tiny):
    data_path, paths, _, _ = tiny
    gmn = training.model_kwargs("gmn", NETWORKS["gmn"], DATASET, load_samples("gmn", data_path, paths))
    assert gmn == {**NETWORKS["gmn"], "num_classes": 10, "layer_sizes": SIREN}
    images = load_samples("mlp", data_path, paths)
    mlp = training.model_kwargs("mlp", NETWORKS["mlp"], DATASET, images)
    assert mlp == {"hidden": (16, 16), "penultimate": 8, "dropout": 0.3, "num_classes": 10, "image_shape": (8, 8)}
    cnn = training.model_kwargs("cnn", NETWORKS["cnn"], "cifar10", images)
    assert cnn == {"channels": (4, 4), "penultimate": 8, "dropout": 0.3, "num_classes": 10, "image_shape": (8, 8)}
    colour = Samples(
        torch.zeros(2, 32, 32, 3, dtype=torch.uint8),
        torch.zeros(2, dtype=torch.int64),
        np.zeros(2, np.uint8),
        np.arange(2),
    )
    assert training.model_kwargs("cnn", NETWORKS["cnn"], "cifar10", colour)["image_shape"] == (32, 32, 3)
    for arch, kwargs in (("gmn", gmn), ("mlp", mlp), ("cnn", cnn)):
        assert registry.build(arch, kwargs).num_layers == 3


def check_representations(model, inputs, batch, num_layers, num_classes=10):
    assert model.num_layers == num_layers
    model.eval()
    with torch.no_grad():
        logits, layers = model.representations(inputs)
        assert torch.equal(model(inputs), logits)
    assert logits.shape == (batch, num_classes)
    assert len(layers) == num_layers
    for layer in layers:
        assert layer.ndim == 2 and layer.shape[0] == batch and layer.shape[1] > 0
        assert torch.isfinite(layer).all()
    return layers


@pytest.mark.parametrize("blocks", [1, 3])
def test_every_architecture_exposes_blocks_plus_one_representation_layers(blocks):
    for shape in ((8, 8), (32, 32, 3)):
        images = torch.from_numpy(random_images(3, shape))
        layers = check_representations(MLP(shape, 10, hidden=(12,) * blocks, penultimate=6), images, 3, blocks + 1)
        assert [layer.shape[1] for layer in layers] == [12] * blocks + [6]
        channels = tuple(4 * (k + 1) for k in range(blocks))
        layers = check_representations(CNN(shape, 10, channels=channels, penultimate=6), images, 3, blocks + 1)
        # flattened block outputs: channels x height x width, halved (rounding up) by each pooling
        side = shape[0]
        for channel_count, layer in zip(channels, layers):
            side = -(-side // 2)
            assert layer.shape[1] == channel_count * side * side
        assert layers[-1].shape[1] == 6
    for sizes in (SIREN, (2, 8, 8, 3)):
        weights = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in random_weights(4, sizes)]
        for readout, width in (("nodes", 8), ("output", 8), ("nodes_edges", 16)):
            gmn = GMN(sizes, 7, hidden=8, blocks=blocks, readout=readout, head_hidden=5, head_layers=2)
            gmn.set_input_statistics(weights)
            layers = check_representations(gmn, weights, 4, blocks + 1, num_classes=7)
            assert [layer.shape[1] for layer in layers] == [width] * blocks + [5]


@pytest.mark.parametrize("preset", ["paper", "demo", "smoke", "fmnist", "fmnist_metanetworks"])
def test_configured_networks_build_for_every_dataset_with_their_layer_counts(preset):
    from conftest import preset_config
    from gmnrep import config as cfg
    from gmnrep.data.sources import SOURCES
    from test_config import SCHEMA

    resolved = cfg.resolve(preset_config(preset), SCHEMA)
    models = resolved["models"]
    for dataset in resolved["datasets"]:
        source = SOURCES[dataset]
        recipe = resolved["inr"]["recipes"][resolved["inr"]["recipe"][dataset]]
        sizes = (2, *recipe["hidden"], source.channels)
        weights = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in random_weights(2, sizes)]
        images = torch.from_numpy(random_images(2, source.image_shape))
        for arch in models["architectures"]:
            spec = registry.get(arch)
            inputs = weights if spec.inputs == WEIGHTS else images
            samples = Samples(inputs, torch.zeros(2, dtype=torch.int64), np.zeros(2, np.uint8), np.arange(2))
            kwargs = training.model_kwargs(arch, models[arch]["network"], dataset, samples)
            model = registry.build(arch, kwargs)
            if spec.prepare is not None:
                getattr(model, spec.prepare)(weights)
            expected = spec.representation_layers(models[arch]["network"])
            check_representations(model, inputs, 2, expected, source.num_classes)


def test_training_jobs_can_keep_freed_memory_on_glibc():
    import platform

    from gmnrep.core.allocator import keep_freed_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is a glibc interface")
    assert keep_freed_memory() is True
