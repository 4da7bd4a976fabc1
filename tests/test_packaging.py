import ast
import importlib
import importlib.util
import re
import tomllib

import yaml

from conftest import REPO


def _pins(requirements):
    return {re.split(r"[=<>!~]", r, maxsplit=1)[0].lower(): r for r in requirements}


def test_conda_env_lists_the_same_pinned_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs/gmnrep.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == _pins(project["dependencies"])
    assert all("==" in r for r in project["dependencies"]), "every runtime dependency is pinned exactly"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert project["requires-python"] == ">=" + python.split("=", 1)[1]


def test_every_rule_uses_the_conda_env_that_exists():
    envs = {p.name for p in (REPO / "envs").glob("*.yaml")}
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for name in re.findall(r"envs/([\w.-]+\.yaml)", smk.read_text()):
            assert name in envs, f"{smk.name} names envs/{name}, which does not exist"


# The library's stages in DAG order; config (the workflow's settings) reads the data stage's sizes
# and the architectures' declarations (gmnrep.models.registry), and no stage before paper reads it.
STAGES = ("core", "data", "inr", "models", "config", "representations", "paper", "provenance")


def _stage(module: str) -> str:
    """'gmnrep.inr.fitting' -> 'inr'; the top-level 'gmnrep.config' is its own stage."""
    return module.split(".")[1]


def _imported_library_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gmnrep."):
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the library imports itself by absolute names")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("gmnrep.")}
    return found


def test_every_library_import_goes_downhill():
    """A stage imports core and the stages before it, never a later one: the package layout
    mirrors the DAG, so a stage can be read (and changed) without the ones after it."""
    library = REPO / "src/gmnrep"
    modules = sorted(library.rglob("*.py"))
    assert {path.relative_to(library).parts[0].removesuffix(".py") for path in modules} - {"__init__"} == set(STAGES)
    for path in modules:
        importer = ".".join(("gmnrep", *path.relative_to(library).with_suffix("").parts))
        if importer == "gmnrep.__init__":
            continue
        for module in _imported_library_modules(path):
            assert STAGES.index(_stage(module)) <= STAGES.index(_stage(importer)), f"{importer} imports {module}"


def test_every_name_a_bench_imports_from_the_library_exists():
    """The benches run outside the suite (bench/, docs/performance.md): a name moved in the library
    would break them unseen."""
    missing = []
    for path in sorted((REPO / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gmnrep":
                module = importlib.import_module(node.module)
                missing += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name)
                    and importlib.util.find_spec(f"{node.module}.{alias.name}") is None
                ]
    assert not missing, missing
