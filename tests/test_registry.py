"""The architecture registry: every declaration is complete and consistent with its network, and
no code outside the declarations and the registry tells architectures apart by name."""

import ast
import re
from pathlib import Path

import pytest
import torch

from conftest import preset_config
from gmnrep import config as cfg
from gmnrep.models import registry
from gmnrep.models.architectures import IMAGE, IMAGES, WEIGHT_SPACE, WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# Where an architecture may be named: its declaration, the registry, and the configuration files.
ALLOWED = [ROOT / "src/gmnrep/models/architectures", ROOT / "src/gmnrep/models/registry.py"]
INPUT_SHAPES = {WEIGHTS: (2, 32, 32, 1), IMAGES: (28, 28)}


def names_in_python(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every string constant in the module that is an architecture's name."""
    known = set(registry.display_order())
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known
    ]


def names_in_snakemake(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every quoted architecture name in a Snakemake file (not Python's grammar)."""
    quoted = re.compile("[\"'](" + "|".join(registry.display_order()) + ")[\"']")
    return [
        (number, m.group(1))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for m in quoted.finditer(line)
    ]


def pipeline_files():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "workflow").rglob("*.py")]
    files = [f for f in files if not any(f.is_relative_to(allowed) for allowed in ALLOWED)]
    return files, [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk")]


def test_no_architecture_is_named_outside_its_declaration_and_the_registry():
    python, snakemake = pipeline_files()
    assert len(python) > 40 and len(snakemake) > 5  # the search sees the pipeline
    found = [f"{p.relative_to(ROOT)}:{line}: {name!r}" for p in python for line, name in names_in_python(p)]
    found += [f"{p.relative_to(ROOT)}:{line}: {name!r}" for p in snakemake for line, name in names_in_snakemake(p)]
    assert found == []


def test_the_search_finds_a_name_where_there_is_one(tmp_path):
    module, rules = tmp_path / "m.py", tmp_path / "r.smk"
    module.write_text('if arch == "gmn":\n    pass\nlabel = "gmn_only"\n')
    rules.write_text("rule x:\n    params: arch='cnnmatch'\n")
    assert names_in_python(module) == [(1, "gmn")]
    assert names_in_snakemake(rules) == [(2, "cnnmatch")]


@pytest.mark.parametrize("name", list(registry.ARCHITECTURES))
def test_each_declaration_builds_its_network_with_the_layers_it_declares(name):
    spec = registry.get(name)
    assert re.fullmatch(r"[a-z][a-z0-9]*", name) and not registry.is_matched(name)
    assert spec.family in (WEIGHT_SPACE, IMAGE) and spec.inputs in (WEIGHTS, IMAGES)
    network = preset_config("smoke")["models"][name]["network"]
    model = registry.build(name, spec.model_kwargs(network, 10, INPUT_SHAPES[spec.inputs]))
    assert isinstance(model, spec.network()) and model.num_layers == spec.representation_layers(network)
    if spec.prepare is not None:
        assert callable(getattr(model, spec.prepare))
    # its schema is what the configuration validates its section with
    models = cfg.full_schema(cfg.yaml.safe_load(SCHEMA.read_text()))["properties"]["models"]
    assert models["properties"][name]["allOf"][1]["properties"]["network"] is spec.network_schema


def test_weight_space_networks_come_first_and_only_image_networks_have_twins():
    weight_space = ("gmn", "scalegmn", "nfnnp", "statnn", "flatmlp")
    assert registry.weight_space_archs() == weight_space
    assert registry.image_archs() == ("mlp", "cnn")
    assert registry.display_order() == (*weight_space, "mlp", "cnn", "mlpmatch", "cnnmatch")
    assert registry.get("cnnmatch") is registry.get("cnn") and registry.title("cnnmatch") == "CNN (matched)"
    assert registry.network_arch("gmnmatch") == "gmnmatch" and not registry.is_matched("gmnmatch")
    with pytest.raises(
        ValueError, match="unknown architecture 'rnn'; known: gmn, scalegmn, nfnnp, statnn, flatmlp, mlp, cnn"
    ):
        registry.get("rnn")


def test_a_checkpoint_of_an_unknown_architecture_is_refused_with_its_path(tmp_path):
    from gmnrep.core.errors import DataError
    from gmnrep.models import checkpoints

    path = tmp_path / "x.pt"
    checkpoints.save(path, "rnn", {}, {"w": torch.zeros(1)}, {})
    with pytest.raises(DataError, match=rf"{path}: unknown architecture 'rnn'"):
        checkpoints.load(path)
