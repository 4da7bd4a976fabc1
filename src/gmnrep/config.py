"""The pipeline's configuration: config.yaml (paper scale) with preset files and `--config` values
layered over it, validated against the JSON schema plus the cross-key rules a schema cannot express.

Every problem becomes one line naming its key, and all of them are reported at once.
"""

import copy
from pathlib import Path

import jsonschema
import yaml

from gmnrep.core.errors import ConfigError
from gmnrep.data import splits
from gmnrep.data.sources import SOURCES
from gmnrep.models import registry

# libyaml's parser where PyYAML was built with it: the same documents, parsed ten times faster (every
# Snakemake start, each SLURM job's included, reads the schema)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: str | Path):
    """The content of the YAML file at `path` (safe types only)."""
    return yaml.load(Path(path).read_text(), Loader=_YAML_LOADER)


def deep_merge(base: dict, override: dict) -> dict:
    """`base` with `override` laid over it: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def layered(paths: list[str | Path], command_line: dict | None = None) -> dict:
    """The config files merged in order, then the `--config` values: Snakemake's own layering
    (a later file wins; mappings merge key by key, anything else is replaced), for tools that
    read a run's configuration outside Snakemake (`gmnrep audit`)."""
    config = {}
    for path in paths:
        try:
            values = _read_yaml(path) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: not a readable config file ({exc})") from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: must be a mapping of keys to settings, got {type(values).__name__}")
        config = deep_merge(config, values)
    return deep_merge(config, command_line or {})


def canonical(values):
    """`values` with every mapping's keys in sorted order, at every depth. Layering gives the same
    settings in an order that depends on which file named a key first; Snakemake compares a rule's
    params by their repr, which keeps that order."""
    if isinstance(values, dict):
        return {key: canonical(values[key]) for key in sorted(values)}
    if isinstance(values, list):
        return [canonical(value) for value in values]
    return values


def _key(path) -> str:
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _strict_validator(schema: dict):
    """The schema's validator, except that an integer must be a Python int: JSON Schema also
    counts 5000.0 as an integer, and a float shard size or batch size fails only in a job, as
    a slice index or a tensor size."""
    base = jsonschema.validators.validator_for(schema)
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def full_schema(schema: dict) -> dict:
    """`schema` (workflow/schemas/config.schema.yaml) with what the architecture registry declares:
    a section models.<name> per architecture, with its network's schema, and the names that
    models.architectures, models.matched.architectures and models.matched.target accept."""
    schema = copy.deepcopy(schema)
    models = schema["properties"]["models"]
    matched = models["properties"]["matched"]["properties"]
    models["properties"]["architectures"]["items"] = {"enum": list(registry.names())}
    matched["architectures"]["items"] = {"enum": list(registry.image_archs())}
    matched["target"] = {"enum": list(registry.weight_space_archs())}
    for name, spec in registry.ARCHITECTURES.items():
        models["properties"][name] = {
            "allOf": [{"$ref": "#/definitions/architecture"}, {"properties": {"network": spec.network_schema}}]
        }
        models["required"].append(name)
    return schema


def schema_problems(config: dict, schema: dict) -> list[str]:
    validator = _strict_validator(schema)
    problems = []
    for error in validator.iter_errors(config):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            for unknown in sorted(set(error.instance) - set(allowed)):
                problems.append(f"{_key([*error.absolute_path, unknown])}: unknown key")
        else:
            problems.append(f"{_key(error.absolute_path)}: {error.message}")
    return sorted(set(problems))


def imported_set(config: dict, dataset: str) -> dict | None:
    """The standard INR set (inr.standard_sets entry, with its name as `name`) that `dataset`'s INRs
    are imported from (inr.imported), or None when they are fitted."""
    entry = config["inr"]["imported"].get(dataset)
    if entry is None:
        return None
    return {"name": entry["set"], **config["inr"]["standard_sets"][entry["set"]]}


def inr_recipe_name(config: dict, dataset: str) -> str:
    """The SIREN recipe of `dataset`'s INRs: its imported set's, or the one it is fitted with."""
    standard = imported_set(config, dataset)
    return standard["recipe"] if standard else config["inr"]["recipe"][dataset]


def dataset_split_sizes(config: dict, dataset: str) -> dict[str, int]:
    """Train / val / test sizes of `dataset`'s INRs under `config`, known before any data is read:
    its imported set's, or the data split's that its INRs are fitted on."""
    standard = imported_set(config, dataset)
    if standard:
        return dict(standard["split_sizes"])
    source = SOURCES[dataset]
    data = config["data"]
    return splits.split_sizes(
        source.num_official_train, source.num_official_test, data["validation_size"][dataset], data["digits_test_size"]
    )


def matched_architectures(models: dict) -> list[str]:
    """The accuracy-matched twins this run trains (models.matched.architectures), e.g. 'mlpmatch'."""
    return [registry.matched_arch(arch) for arch in models["matched"]["architectures"]]


def model_architectures(models: dict) -> list[str]:
    """Every architecture this run trains: models.architectures, then the matched twins."""
    return [*models["architectures"], *matched_architectures(models)]


def _matched_problems(models: dict) -> list[str]:
    """A matched twin's target is the validation accuracy of this run's models.matched.target."""
    target = models["matched"]["target"]
    if models["matched"]["architectures"] and target not in models["architectures"]:
        return [f"models.matched.target: the matched networks' target is the accuracy of the {target} models; "
                f"add {target} to models.architectures or set models.matched.architectures: []"]  # fmt: skip
    return []


def representation_layer_counts(models: dict) -> dict[str, int]:
    """L of each configured architecture (its hidden blocks plus the penultimate layer), keyed by
    the setting that fixes it."""
    counts = {}
    for name in models["architectures"]:
        spec = registry.get(name)
        counts[f"models.{name}.network.{spec.depth_key}"] = spec.representation_layers(models[name]["network"])
    return counts


def deepest_representation(models: dict) -> int:
    """L of the run's deepest architectures: what the compared layers (cka.figure_layers) are
    numbered in (gmnrep.representations.compared_layers)."""
    return max(representation_layer_counts(models).values())


def consistency_problems(config: dict) -> list[str]:
    """Rules across keys: every dataset has a recipe that exists, its splits leave training and
    validation images, the minibatch CKA estimator gets at least one minibatch of probe samples, and
    every architecture has each compared layer (numbered as in the deepest, aligned at the top)."""
    counts = representation_layer_counts(config["models"])
    problems = _matched_problems(config["models"])
    deepest = deepest_representation(config["models"])
    for layer in config["cka"]["figure_layers"]:
        if layer > deepest:
            problems.append(f"cka.figure_layers: layer {layer} is beyond the {deepest} representation layers")
        problems += [
            f"cka.figure_layers: layer {layer} (numbered as in the deepest networks' {deepest} layers, aligned at "
            f"the top) is below the first of the {count} representation layers {key} gives; compare higher layers"
            for key, count in counts.items()
            if layer <= deepest - count
        ]
    inr, data = config["inr"], config["data"]
    imported = _imported_problems(inr)
    if imported:
        return problems + imported
    for name in config["datasets"]:
        recipe = inr["recipe"].get(name) if name not in inr["imported"] else inr_recipe_name(config, name)
        if recipe is None:
            problems.append(f"inr.recipe.{name}: missing; every configured dataset needs a recipe")
        elif recipe not in inr["recipes"]:
            problems.append(f"inr.recipe.{name}: recipe {recipe!r} is not defined in inr.recipes")
        if name not in data["validation_size"]:
            problems.append(f"data.validation_size.{name}: missing; every configured dataset needs one")
            continue
        try:
            sizes = splits.subset_sizes(dataset_split_sizes(config, name), inr["subset"])
        except ValueError as exc:
            problems.append(f"data.validation_size.{name}: {exc}")
            continue
        # Training selects its epoch on the validation images and refuses an empty validation
        # split, but only once the INRs are fitted: refuse it here, before any job runs.
        if sizes["val"] == 0:
            problems.append(f"data.validation_size.{name}: 0 leaves {name} no validation images; use at least 1")
        problems += _minibatch_problems(config, name, sizes["test"])
    return problems


def _imported_problems(inr: dict) -> list[str]:
    """An imported dataset names a set of that dataset, and an archive folder that exists."""
    problems = []
    for dataset, entry in inr["imported"].items():
        standard = inr["standard_sets"].get(entry["set"])
        where = f"inr.imported.{dataset}"
        if standard is None:
            problems.append(
                f"{where}.set: {entry['set']!r} is not one of inr.standard_sets ({', '.join(inr['standard_sets'])})"
            )
        elif standard["dataset"] != dataset:
            problems.append(f"{where}.set: {entry['set']!r} holds INRs of {standard['dataset']}, not of {dataset}")
        elif standard["recipe"] not in inr["recipes"]:
            problems.append(f"inr.standard_sets.{entry['set']}.recipe: {standard['recipe']!r} is not in inr.recipes")
        if not Path(entry["folder"]).is_dir():
            problems.append(f"{where}.folder: {entry['folder']} is not a folder (unpack the set's archive there)")
        if entry.get("splits") is not None and not Path(entry["splits"]).is_file():
            problems.append(f"{where}.splits: {entry['splits']} is not a file")
    return problems


def _minibatch_problems(config: dict, dataset: str, test_images: int) -> list[str]:
    """The probe samples (test images, at most activations.probe_size) must fill one CKA minibatch
    and give every probe block a sample; the CKA jobs refuse fewer, but only after every model is trained."""
    cka = config["cka"]
    probe_size = config["activations"]["probe_size"]
    probes = test_images if probe_size is None else min(probe_size, test_images)
    where = f"the {probes} probe samples of {dataset} (its test images, at most activations.probe_size)"
    problems = []
    if cka["probe_blocks"] > probes:
        problems.append(f"cka.probe_blocks: {cka['probe_blocks']} is more than {where}; a block would be empty")
    if cka["estimator"] == "minibatch" and cka["minibatch_size"] > probes:
        problems.append(
            f"cka.minibatch_size: {cka['minibatch_size']} is more than {where}; no minibatch could be filled"
        )
    return problems


def resolve(config: dict, schema_path: str | Path, command_line: dict | None = None) -> dict:
    """`config` (config.yaml with any preset file and `--config` values already layered over it)
    validated, unchanged; ConfigError with one line per problem."""
    if "preset" in (command_line or {}):
        raise ConfigError(
            "preset: a preset is a config file layered over config.yaml; choose it with "
            f"--configfile presets/{command_line['preset']}.yaml, not --config preset=..."
        )
    schema = full_schema(_read_yaml(schema_path))
    problems = schema_problems(config, schema)
    if not problems:
        problems = consistency_problems(config)
    if problems:
        raise ConfigError(
            f"invalid configuration (preset {config.get('preset')!r}):\n" + "\n".join(f"  {p}" for p in problems)
        )
    return config
