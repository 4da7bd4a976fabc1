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
