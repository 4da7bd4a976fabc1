"""The INR recipes of the repository's config.yaml (inr.recipes), for the benchmarks: one source of
truth, so that a benchmark measures what the pipeline fits."""

from dataclasses import replace
from pathlib import Path

import yaml

from gmnrep.inr.siren import SirenRecipe

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def config_recipe(name: str, **changes) -> SirenRecipe:
    """config.yaml's recipe `name` ("dwsnets", "nfn"), with `changes` to its fields."""
    return replace(SirenRecipe.from_config(yaml.safe_load(CONFIG.read_text())["inr"]["recipes"][name]), **changes)
