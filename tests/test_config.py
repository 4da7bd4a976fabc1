"""config.py against the real config.yaml and JSON schema."""

import copy
from pathlib import Path

import pytest
import yaml

from conftest import PRESETS, preset_config, preset_files
from gmnrep import config as cfg
from gmnrep.core.errors import ConfigError
from gmnrep.core.hashing import config_hash

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="module")
def _raw_config():
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture
def raw(_raw_config):
    """A fresh, mutable copy of config.yaml as Snakemake loads it."""
    return copy.deepcopy(_raw_config)


def problems_of(config) -> list[str]:
    """The problem lines of the ConfigError that resolving `config` raises."""
    with pytest.raises(ConfigError) as info:
        cfg.resolve(config, SCHEMA)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("invalid configuration (preset ")
    return [line.strip() for line in lines[1:]]


# --- presets and layering --------------------------------------------------------------------


def test_every_preset_is_a_file_that_names_itself(raw):
    assert raw["preset"] == "paper"
    for name in PRESETS[1:]:
        assert yaml.safe_load(preset_files(name)[-1].read_text())["preset"] == name


def test_every_preset_resolves():
    for name in PRESETS:
        assert cfg.resolve(preset_config(name), SCHEMA)["preset"] == name


def test_paper_preset_is_the_file_as_is(raw):
    assert cfg.resolve(preset_config("paper"), SCHEMA) == raw
    assert raw["datasets"] == ["mnist", "fashion_mnist", "cifar10"]


def test_presets_write_to_distinct_folders():
    resolved = {name: cfg.resolve(preset_config(name), SCHEMA) for name in PRESETS}
    for key in ("results", "logs"):
        folders = [Path(r[key]) for r in resolved.values()]
        assert len(set(folders)) == len(folders), f"presets share a {key} folder: {folders}"
    # results and logs never coincide across presets either
    all_folders = [Path(r[k]) for r in resolved.values() for k in ("results", "logs")]
    assert len(set(all_folders)) == len(all_folders)


def test_smoke_preset_overrides_only_what_it_names():
    smoke, paper = preset_config("smoke"), preset_config("paper")
    assert smoke["datasets"] == ["digits", "fashion_mnist"]  # list replaced, not merged
    assert smoke["inr"]["recipes"]["dwsnets"]["max_steps"] == 150
    # the rest of the recipe, and the other recipe, come from the paper settings
    for key, value in paper["inr"]["recipes"]["dwsnets"].items():
        if key != "max_steps":
            assert smoke["inr"]["recipes"]["dwsnets"][key] == value
    assert smoke["inr"]["recipes"]["nfn"] == paper["inr"]["recipes"]["nfn"]
    assert smoke["data"] == paper["data"]
    assert smoke["raw_dir"] == paper["raw_dir"]


def test_a_further_config_file_overrides_a_nested_key_and_the_command_line_comes_last(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("inr:\n  recipes:\n    dwsnets: {max_steps: 100, lr: 1.0e-3}\nmodels: {seeds: [3]}\n")
    layered = cfg.layered(preset_files("smoke") + [extra], {"models": {"seeds": [4, 5]}})
    smoke = preset_config("smoke")
    assert layered["inr"]["recipes"]["dwsnets"] == {**smoke["inr"]["recipes"]["dwsnets"], "max_steps": 100, "lr": 1e-3}
    assert layered["inr"]["subset"] == smoke["inr"]["subset"]
    assert layered["models"]["seeds"] == [4, 5] and layered["models"]["gmn"] == smoke["models"]["gmn"]
    assert cfg.resolve(layered, SCHEMA) is layered  # validated, not rewritten


def test_a_preset_chosen_on_the_command_line_is_refused_with_the_file_to_use(raw):
    with pytest.raises(ConfigError, match=r"preset: .*--configfile presets/demo\.yaml"):
        cfg.resolve(raw, SCHEMA, {"preset": "demo"})


def test_an_empty_config_file_layers_nothing(tmp_path, raw):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert cfg.layered([CONFIG, empty]) == raw


@pytest.mark.parametrize("text, problem", [("[1, 2]\n", "must be a mapping"), ("a: [\n", "not a readable config file")])
def test_a_bad_config_file_is_refused_with_its_path(tmp_path, text, problem):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=rf"{bad}: {problem}"):
        cfg.layered([CONFIG, bad])


# --- deep_merge ------------------------------------------------------------------------------


def test_deep_merge_semantics():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": "keep", "d": {"k": 1}}
    override = {"a": {"y": {"q": 20, "r": 30}, "z": 3}, "l": [9], "d": 5, "new": {"n": 1}}
    merged = cfg.deep_merge(base, override)
    assert merged == {
        "a": {"x": 1, "y": {"p": 1, "q": 20, "r": 30}, "z": 3},
        "l": [9],  # lists are replaced, not concatenated
        "s": "keep",
        "d": 5,  # a scalar replaces a mapping
        "new": {"n": 1},
    }
    assert cfg.deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}  # and a mapping replaces a scalar
    assert cfg.deep_merge(base, {}) == base


def test_deep_merge_does_not_alias_or_mutate():
    base = {"a": {"b": [1]}, "c": [1]}
    override = {"c": [2], "d": {"e": [3]}}
    merged = cfg.deep_merge(base, override)
    merged["a"]["b"].append(99)
    merged["c"].append(99)
    merged["d"]["e"].append(99)
    assert base == {"a": {"b": [1]}, "c": [1]}
    assert override == {"c": [2], "d": {"e": [3]}}


# --- one line per problem, naming the key ----------------------------------------------------


def test_wrong_type(raw):
    raw["inr"]["shard_size"] = "abc"
    (line,) = problems_of(raw)
    assert line.startswith("inr.shard_size:")
    assert "'abc'" in line and "integer" in line


def test_wrong_type_inside_a_preset():
    demo = preset_config("demo")
    demo["inr"]["shard_size"] = "abc"
    (line,) = problems_of(demo)
    assert line.startswith("inr.shard_size:")


def test_unknown_dataset(raw):
    raw["datasets"] = ["mnist", "svhn"]
    (line,) = problems_of(raw)
    assert line.startswith("datasets[1]:")
    assert "'svhn'" in line


def test_unknown_top_level_key(raw):
    raw["shard_size"] = 10
    (line,) = problems_of(raw)
    assert line == "shard_size: unknown key"


def test_unknown_nested_key(raw):
    raw["inr"]["shardsize"] = 10
    (line,) = problems_of(raw)
    assert line == "inr.shardsize: unknown key"


def test_out_of_range_value(raw):
    raw["data"]["split_seed"] = -1
    (line,) = problems_of(raw)
    assert line.startswith("data.split_seed:")


def test_undefined_recipe(raw):
    raw["inr"]["recipe"]["mnist"] = "nope"
    (line,) = problems_of(raw)
    assert line.startswith("inr.recipe.mnist:")
    assert "'nope'" in line


def test_missing_recipe_for_a_configured_dataset(raw):
    del raw["inr"]["recipe"]["cifar10"]
    (line,) = problems_of(raw)
    assert line.startswith("inr.recipe.cifar10:")


def test_an_imported_dataset_takes_its_sets_split_sizes_and_recipe(raw, tmp_path):
    raw["inr"]["imported"] = {"cifar10": {"set": "nfn_cifar10", "folder": str(tmp_path)}}
    del raw["inr"]["recipe"]["cifar10"]  # an imported dataset is not fitted: it needs no recipe of its own
    cfg.resolve(raw, SCHEMA)
    assert cfg.dataset_split_sizes(raw, "cifar10") == {"train": 45000, "val": 5000, "test": 10000}
    assert cfg.inr_recipe_name(raw, "cifar10") == "nfn"
    assert cfg.imported_set(raw, "mnist") is None and cfg.inr_recipe_name(raw, "mnist") == "dwsnets"


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"set": "nope"}, "inr.imported.mnist.set: 'nope' is not one of inr.standard_sets (dwsnets_mnist, "),
        (
            {"set": "ng_fashion_mnist"},
            "inr.imported.mnist.set: 'ng_fashion_mnist' holds INRs of fashion_mnist, not of mnist",
        ),
        (
            {"set": "dwsnets_mnist", "folder": "/no/such/folder"},
            "inr.imported.mnist.folder: /no/such/folder is not a folder",
        ),
        (
            {"set": "dwsnets_mnist", "splits": "/no/splits.json"},
            "inr.imported.mnist.splits: /no/splits.json is not a file",
        ),
    ],
)
def test_an_import_of_another_set_or_of_a_missing_archive_is_refused(raw, tmp_path, entry, problem):
    raw["inr"]["imported"] = {"mnist": {"folder": str(tmp_path), **entry}}
    (line,) = problems_of(raw)
    assert line.startswith(problem), line


def test_validation_size_leaving_no_training_images(raw):
    raw["datasets"] = ["digits"]
    raw["data"]["validation_size"]["digits"] = 5000
    (line,) = problems_of(raw)
    assert line.startswith("data.validation_size.digits:")
    assert "no training images" in line


def test_validation_size_of_an_unused_dataset_is_not_checked(raw):
    raw["data"]["validation_size"]["digits"] = 5000  # digits is not among the paper datasets
    cfg.resolve(raw, SCHEMA)


def test_missing_validation_size_for_a_configured_dataset(raw):
    del raw["data"]["validation_size"]["mnist"]
    (line,) = problems_of(raw)
    assert line.startswith("data.validation_size.mnist:")


def test_several_schema_problems_give_several_lines(raw):
    raw["inr"]["shard_size"] = "abc"
    raw["datasets"] = ["mnist", "svhn"]
    raw["data"]["split_seed"] = -1
    raw["unknown_key"] = 1
    lines = problems_of(raw)
    assert len(lines) == 4
    assert sum(line.startswith("inr.shard_size:") for line in lines) == 1
    assert sum(line.startswith("datasets[1]:") for line in lines) == 1
    assert sum(line.startswith("data.split_seed:") for line in lines) == 1
    assert sum(line == "unknown_key: unknown key" for line in lines) == 1


def test_several_consistency_problems_give_several_lines(raw):
    raw["datasets"] = ["mnist", "digits"]
    raw["inr"]["recipe"]["mnist"] = "nope"
    raw["data"]["validation_size"]["digits"] = 5000
    lines = problems_of(raw)
    assert len(lines) == 2
    assert any(line.startswith("inr.recipe.mnist:") for line in lines)
    assert any(line.startswith("data.validation_size.digits:") for line in lines)


# --- config_hash -----------------------------------------------------------------------------


def test_config_hash_stable_under_key_order(raw):
    resolved = cfg.resolve(raw, SCHEMA)
    reordered = {key: resolved[key] for key in reversed(list(resolved))}
    reordered["inr"] = {key: resolved["inr"][key] for key in reversed(list(resolved["inr"]))}
    assert list(reordered) != list(resolved)
    assert config_hash(reordered) == config_hash(resolved)
    assert config_hash(copy.deepcopy(resolved)) == config_hash(resolved)
    assert len(config_hash(resolved)) == 64


def test_config_hash_changes_with_a_value(raw):
    resolved = cfg.resolve(raw, SCHEMA)
    changed = copy.deepcopy(resolved)
    changed["inr"]["recipes"]["dwsnets"]["lr"] = 1e-3
    assert config_hash(changed) != config_hash(resolved)
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert config_hash({"a": [1, 2]}) != config_hash({"a": [2, 1]})  # list order matters


# --- models ----------------------------------------------------------------------------------


def test_paper_models_are_five_seeds_of_three_architectures(raw):
    models = cfg.resolve(raw, SCHEMA)["models"]
    assert models["architectures"] == ["gmn", "mlp", "cnn"]
    assert models["seeds"] == [0, 1, 2, 3, 4]
    assert cfg.representation_layer_counts(models) == {
        "models.gmn.network.blocks": 5,
        "models.mlp.network.hidden": 5,
        "models.cnn.network.channels": 5,
    }


@pytest.mark.parametrize(
    "preset, archs",
    [("demo", ["gmn", "mlp", "cnn"]), ("smoke", ["gmn", "scalegmn", "mlp", "cnn"]), ("fmnist", ["gmn", "mlp", "cnn"])],
)
def test_small_presets_train_the_gmn_and_the_image_networks_equally_deep(preset, archs):
    models = cfg.resolve(preset_config(preset), SCHEMA)["models"]
    assert models["architectures"] == archs
    counts = cfg.representation_layer_counts(models)
    assert len(counts) == len(archs)
    gmn, mlp, cnn = (models[arch]["network"] for arch in ("gmn", "mlp", "cnn"))
    assert gmn["blocks"] == len(mlp["hidden"]) == len(cnn["channels"]) == cfg.deepest_representation(models) - 1
    assert len(models["seeds"]) >= 2  # a std over seeds needs two


def test_a_shallower_metanetwork_is_compared_at_the_top_and_refused_below_its_first_layer(raw):
    raw["models"]["architectures"] = ["gmn", "scalegmn", "mlp", "cnn"]
    assert raw["models"]["scalegmn"]["network"]["layers"] == 2  # the reference's: L = 3 beside the others' 5
    assert cfg.deepest_representation(cfg.resolve(raw, SCHEMA)["models"]) == 5  # figure layers 3, 4 are its 1, 2
    raw["cka"]["figure_layers"] = [2, 4]
    (line,) = problems_of(raw)
    assert line.startswith("cka.figure_layers: layer 2") and "models.scalegmn.network.layers gives" in line


def test_matched_networks_need_their_target_in_the_run(raw):
    raw["models"]["architectures"] = ["scalegmn", "mlp", "cnn"]
    (line,) = problems_of(raw)
    assert line.startswith("models.matched.target:") and "add gmn to models.architectures" in line
    raw["models"]["matched"]["target"] = "scalegmn"
    assert cfg.resolve(raw, SCHEMA)["models"]["matched"]["target"] == "scalegmn"
    raw["models"]["matched"]["target"] = "mlp"  # only a weight-space network can be the target
    assert any(line.startswith("models.matched.target:") and "'mlp'" in line for line in problems_of(raw))


def test_only_image_networks_get_matched_twins(raw):
    raw["models"]["matched"]["architectures"] = ["mlp", "gmn"]
    (line,) = problems_of(raw)
    assert line.startswith("models.matched.architectures[1]:") and "'gmn'" in line


def test_a_compared_layer_below_a_shallow_networks_first_is_refused_naming_its_key(raw):
    raw["models"]["mlp"]["network"]["hidden"] = [256, 256, 256]  # L = 4: layers 3, 4 are its 2, 3
    assert cfg.resolve(raw, SCHEMA)["cka"]["figure_layers"] == [3, 4]
    raw["models"]["mlp"]["network"]["hidden"] = [256]  # L = 2: layer 3 of 5 would be its layer 0
    (line,) = problems_of(raw)
    assert line.startswith("cka.figure_layers: layer 3") and "2 representation layers models.mlp.network.hidden" in line


def test_a_shallow_network_inside_a_preset():
    smoke = preset_config("smoke")
    smoke["models"]["gmn"]["network"]["blocks"] = 1
    (line,) = problems_of(smoke)
    assert line.startswith("cka.figure_layers: layer 3") and "2 representation layers models.gmn.network.blocks" in line


def test_layer_counts_of_unused_architectures_are_not_compared(raw):
    raw["models"]["architectures"] = ["gmn", "cnn"]
    raw["models"]["mlp"]["network"]["hidden"] = [256]
    resolved = cfg.resolve(raw, SCHEMA)
    assert cfg.representation_layer_counts(resolved["models"]) == {
        "models.gmn.network.blocks": 5,
        "models.cnn.network.channels": 5,
    }


def test_unknown_architecture(raw):
    raw["models"]["architectures"] = ["gmn", "mlp", "cnn", "transformer"]
    (line,) = problems_of(raw)
    assert line.startswith("models.architectures[3]:")
    assert "'transformer'" in line


def test_negative_seed(raw):
    raw["models"]["seeds"] = [0, -1]
    (line,) = problems_of(raw)
    assert line.startswith("models.seeds[1]:")
    assert "-1" in line


def test_repeated_seed(raw):
    raw["models"]["seeds"] = [0, 1, 1]
    (line,) = problems_of(raw)
    assert line.startswith("models.seeds:")


def test_unknown_key_in_a_network(raw):
    raw["models"]["gmn"]["network"]["layers"] = 4
    raw["models"]["cnn"]["network"]["kernel"] = 5
    assert problems_of(raw) == ["models.cnn.network.kernel: unknown key", "models.gmn.network.layers: unknown key"]


def test_unknown_key_in_training_settings(raw):
    raw["models"]["mlp"]["training"]["momentum"] = 0.9
    assert problems_of(raw) == ["models.mlp.training.momentum: unknown key"]


def test_unknown_readout(raw):
    raw["models"]["gmn"]["network"]["readout"] = "median"
    (line,) = problems_of(raw)
    assert line.startswith("models.gmn.network.readout:")
    assert "'median'" in line


@pytest.mark.parametrize("dropout", [1.0, -0.1])
def test_dropout_out_of_range(raw, dropout):
    raw["models"]["mlp"]["network"]["dropout"] = dropout
    (line,) = problems_of(raw)
    assert line.startswith("models.mlp.network.dropout:")


def test_missing_network_key(raw):
    del raw["models"]["cnn"]["network"]["channels"]
    (line,) = problems_of(raw)
    assert line.startswith("models.cnn.network:") and "'channels'" in line
