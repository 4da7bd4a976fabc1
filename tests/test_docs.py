"""The documents: numbers about the presets and the suite stated in one place and true of the
configuration, links that resolve, module paths and make targets that exist, dates only where a
measurement table records one."""

import importlib
import re
from pathlib import Path

import pytest

from conftest import PRESETS, REPO, preset_config, rule_counts
from gmnrep import config
from gmnrep.inr import planning
from gmnrep.representations import pairs

DOCS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
REFERENCE_DOCS = [doc for doc in DOCS if doc.name != "CHANGELOG.md"]  # the changelog may state history
PERFORMANCE = REPO / "docs/performance.md"
PLANS_HEADING = "## What each preset plans"
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
# Counts that go stale whenever a preset or the suite changes: stated only in the plans table
# (and the suite's measurements, as columns of their own).
COUNT = re.compile(
    r"\b\d[\d,]*\s+(?:trainings|training jobs|matched twins|twins|activation dumps|dumps|CKA pairs|"
    r"jobs|rule jobs|SLURM jobs|tests|passed)\b"
)
DATE = re.compile(r"20\d\d-\d\d-\d\d")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose_lines(doc: Path) -> list[tuple[int, str]]:
    """(line number, line) of a Markdown file outside its fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(doc.read_text().splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def table_after(doc: Path, heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table after `heading`, as {column: cell}."""
    lines = doc.read_text().split(heading + "\n", 1)[1].splitlines()
    rows = [line for line in lines[lines.index(next(x for x in lines if x.startswith("|"))) :]]
    rows = rows[: next((i for i, line in enumerate(rows) if not line.startswith("|")), len(rows))]
    split = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return [dict(zip(split[0], cells)) for cells in split[2:]]


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, str]]:
    return {row["preset"]: row for row in table_after(PERFORMANCE, PLANS_HEADING)}


def planned_by_config(preset: str) -> dict[str, str]:
    """The plans table's columns as the preset's configuration gives them."""
    resolved = config.resolve(preset_config(preset), SCHEMA)
    datasets, models = resolved["datasets"], resolved["models"]
    seeds = models["seeds"]
    inr = resolved["inr"]
    shards = sum(
        planning.shard_count(config.dataset_split_sizes(resolved, dataset), inr["subset"], inr["shard_size"])
        for dataset in datasets
    )
    trainings = len(datasets) * len(models["architectures"]) * len(seeds)
    twins = len(datasets) * len(config.matched_architectures(models)) * len(seeds)
    compared = pairs.model_pairs(config.model_architectures(models), seeds, resolved["cka"]["pairs"])
    return {
        "datasets": ", ".join(datasets),
        "INR shards": str(shards),
        "trainings": str(trainings),
        "matched twins": str(twins),
        "activation dumps": str(trainings + twins),
        "CKA pairs": str(len(datasets) * len(compared)),
    }


def test_the_plans_table_lists_every_preset_as_its_configuration_plans_it(plans):
    assert sorted(plans) == sorted(PRESETS)
    for preset in PRESETS:
        stated = {column: plans[preset][column] for column in planned_by_config(preset)}
        assert stated == planned_by_config(preset), f"docs/performance.md, {PLANS_HEADING!r}, {preset}"


def test_the_plans_table_states_the_jobs_snakemake_plans(plans, preset_jobs):
    for preset in PRESETS:
        rules = rule_counts(preset_jobs(preset))
        planned = {
            "jobs": rules.total(),
            "trainings": rules["train_model"],
            "matched twins": rules["train_matched"],
            "activation dumps": rules["dump_activations"],
            "CKA pairs": rules["cka_pair"],
        }
        assert {column: int(plans[preset][column]) for column in planned} == planned, preset


def test_counts_of_the_presets_and_the_suite_are_stated_only_in_the_plans_table():
    plans_table = {line for _, line in prose_lines(PERFORMANCE) if line.startswith("|")}
    repeated = [
        f"{doc.relative_to(REPO)}:{number}: {match.group(0)!r}"
        for doc in REFERENCE_DOCS
        for number, line in prose_lines(doc)
        if not (doc == PERFORMANCE and line in plans_table)
        for match in COUNT.finditer(line)
    ]
    assert not repeated, "state these in docs/performance.md's plans or suite table and link there:\n" + "\n".join(
        repeated
    )


def test_the_count_check_finds_a_count_stated_outside_the_table():
    assert COUNT.search("the paper scale plans 45 trainings and 1195 jobs")
    assert COUNT.search("669 tests in 17 min")
    assert not COUNT.search("two trainings that ask for a GPU each; 5 seeds")


def test_dates_appear_only_in_tables():
    undated_prose = [
        f"{doc.relative_to(REPO)}:{number}: {line.strip()[:80]}"
        for doc in REFERENCE_DOCS
        for number, line in prose_lines(doc)
        if DATE.search(line) and not line.startswith("|")
    ]
    assert not undated_prose, "history goes to CHANGELOG.md, a measurement's date to its table:\n" + "\n".join(
        undated_prose
    )


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    names = set()
    for _, line in prose_lines(doc):
        if line.startswith("#"):
            anchor = github_anchor(line)
            names.add(anchor if anchor not in seen else f"{anchor}-{seen[anchor]}")
            seen[anchor] = seen.get(anchor, 0) + 1
    return names


def test_relative_links_point_to_existing_files_and_headings():
    broken = []
    for doc in DOCS:
        for number, line in prose_lines(doc):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue
                path, _, anchor = target.partition("#")
                linked = (doc.parent / path).resolve() if path else doc
                if not linked.exists():
                    broken.append(f"{doc.relative_to(REPO)}:{number}: {target} (no such file)")
                elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                    broken.append(f"{doc.relative_to(REPO)}:{number}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def named_in_docs(pattern: str) -> set[str]:
    """What the reference docs, config.yaml and the Makefile name (the changelog may name what is gone)."""
    sources = [*REFERENCE_DOCS, REPO / "config.yaml", REPO / "Makefile"]
    texts = [source.read_text() for source in sources]
    return {name for text in texts for name in re.findall(pattern, text)}


def test_every_gmnrep_module_the_docs_name_exists():
    missing = []
    for dotted in sorted(named_in_docs(r"(?<![/\w])(gmnrep(?:\.\w+)+)")):
        parts = dotted.split(".")
        # the longest importable prefix, then attributes (a class, a function, a constant)
        for cut in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(parts[:cut]))
                break
            except ModuleNotFoundError:
                continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        if found is None:
            missing.append(dotted)
    assert not missing, missing


def test_every_make_target_the_docs_name_exists():
    phony = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE).group(1).split()
    assert named_in_docs(r"`make ([\w-]+)") <= set(phony)
