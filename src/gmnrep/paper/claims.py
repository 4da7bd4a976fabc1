"""The paper's three findings as claims, tested on this run's numbers, each with a verdict.

Each claim is stated of every weight-space architecture in the run (its `subject`: the GMN, and any
other metanetwork such as ScaleGMN) in the GMN's place below.

C1, seed sensitivity: GMN-GMN CKA(l, l) is lower than MLP-MLP and than CNN-CNN.
C2, different representations at similar accuracy: GMN-MLP and GMN-CNN CKA(l, l) are lower than
    MLP-CNN, while the GMNs' test accuracy is close to the image networks'.
C3, complementary predictions: more probe samples than chance are classified correctly by every
    GMN seed and wrongly by every MLP and CNN seed (Figure 4's count), beyond what two image
    architectures show between them.

Each claim is tested twice when the run has the accuracy-matched image networks
(gmnrep.models.matching): against the converged MLPs and CNNs, and against their matched twins,
whose validation accuracy is the GMNs' (C1: GMN-GMN against MLP (matched)-MLP (matched); C2: GMN-MLP
(matched) against MLP (matched)-CNN (matched); C3 with the matched networks as the image family).
A matched row asks whether the finding survives when accuracy is no longer a difference.

How C1 and C2 are tested: the difference of mean CKA(l, l) between the two pairings (e.g. MLP-MLP
minus GMN-GMN), over the compared pairs (config cka.pairs; `all` gives every pair), with a t interval
whose variance is a sum of delete-one jackknife variances over each architecture's models and over
the probe blocks (gmnrep.paper.statistics.mean_difference; why this interval: gmnrep.paper.statistics).

Verdicts (CKA values within CKA_TOLERANCE count as equal):
- holds: the interval lies above 0 (the claimed ordering, beyond seed-to-seed and probe variation);
- does not hold: the interval lies at or below 0 (no such ordering: e.g. identical models);
- inconclusive: the interval contains 0 (below FEW_SEEDS seeds the reason says "too few seeds to
  resolve"), fewer than `min_seeds` seeds (no jackknife), or a pairing is missing;
- confounded (C2 only): it would hold, but the GMNs' mean test accuracy differs from the image
  network's by more than `accuracy_gap_bound` points, so the CKA gap need not be "despite similar
  accuracies". The same bound applies to the matched rows: a matched network within it is not
  confounded; one that never reached the GMNs' accuracy (or overshot it) can be.

How C3 is tested (gmnrep.paper.complementarity: the procedures and why). Per probe sample: a = every
GMN right, b = every image network wrong.
(1) The count of a & b against class-stratified independence (complementarity.
stratified_count_distribution): holds: P(count >= observed) < alpha; does not hold: P(count <=
observed) < alpha; else inconclusive.
(2) Against a reference: shared difficulty still pushes any two families' errors together, and
accuracy moves the counts. For each image architecture X and the other one Y, T = #(every GMN
right, every X wrong) - #(every Y right, every X wrong), judged twice (complementarity.
reference_test): exactly, against its distribution given the correctness matrix's margins (every
model's accuracy, every sample's difficulty shared by all models: the Rasch null, `null_draws`
curveball draws), and over the probe samples and the models (T's excess over that null's expectation
against its variation across samples, which architecture-specific difficulty widens, and across
seeds: a jackknife over each architecture's models, at least `min_seeds`). Each side's p is the
larger of the two: holds: P(T >= observed) < alpha / 2, the GMNs are more complementary to X than
Y is, beyond difficulty; does not hold: P(T <= observed) < alpha / 2, less; else inconclusive. The
reason gives both joint counts: with none in either, there is (nearly) nothing to resolve.
The reverse count (every image network right, every GMN wrong) is shown as context, not judged.

The chance floor beside C1 and C2 is the mean chance CKA (gmnrep.representations.similarity) of the
models of the pairing claimed lower: what unrelated representations give at this N and width.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.models import registry
from gmnrep.paper.cka_results import (
    CKA_TOLERANCE,
    CkaTable,
    by_pairing,
    pairing_chance,
    read_block_table,
    read_chance_floors,
    read_cka_tables,
)
from gmnrep.paper.claims_table import COLUMNS, CONFOUNDED, CONTEXT, DOES_NOT_HOLD, HOLDS, INCONCLUSIVE
from gmnrep.paper.complementarity import reference_test, stratified_count_distribution
from gmnrep.paper.model_metrics import read_metrics
from gmnrep.paper.predictions import ProbePredictions, family_correctness, family_members, read_predictions
from gmnrep.paper.statistics import Difference, PairingMatrix, mean_difference, models_per_architecture
from gmnrep.paper.vocabulary import (
    ARCH_TITLES,
    IMAGE_ARCHS,
    MATCHED_ARCHS,
    WEIGHT_SPACE_ARCHS,
    ordered_datasets,
    pairing_title,
)

# Fewer seeds per architecture than this leave a jackknife t interval too wide to resolve most
# differences (k = 3: t on about 2-4 degrees of freedom); an inconclusive verdict says so.
FEW_SEEDS = 5


@dataclass(frozen=True)
class ClaimSettings:
    """config `claims` (its defaults and meaning: config.yaml)."""

    null_draws: int
    confidence: float
    alpha: float
    accuracy_gap_bound: float
    min_seeds: int
    seed: int


def seed_matrix(
    values_by_table: dict[str, float], group: list[CkaTable], seeds_a: list[int], seeds_b: list[int]
) -> np.ndarray:
    """A pairing's values by seed: m[i, j] compares seeds_a[i] of the first architecture with
    seeds_b[j] of the second (each architecture's own seeds); NaN where not compared. Within an
    architecture it is symmetric, with a NaN diagonal (a model is not compared with itself)."""
    position_a = {seed: i for i, seed in enumerate(seeds_a)}
    position_b = {seed: j for j, seed in enumerate(seeds_b)}
    matrix = np.full((len(seeds_a), len(seeds_b)), np.nan)
    for table in group:
        i, j = position_a[table.model_a[1]], position_b[table.model_b[1]]
        matrix[i, j] = values_by_table[table.name]
        if table.model_a[0] == table.model_b[0]:
            matrix[j, i] = matrix[i, j]
    return matrix


def interval_verdict(difference: Difference) -> str:
    if difference.interval is None:
        return INCONCLUSIVE
    low, high = difference.interval
    if low > CKA_TOLERANCE:
        return HOLDS
    if high <= CKA_TOLERANCE:
        return DOES_NOT_HOLD
    return INCONCLUSIVE


@dataclass
class DatasetEvidence:
    """What the claims of one dataset are tested on."""

    dataset: str
    tables: list[CkaTable]
    without_blocks: dict[str, dict[int, np.ndarray]]  # pair name -> layer -> CKA(l, l) without each probe block
    floors: dict  # Model -> chance CKA per layer
    accuracy: dict[str, float]  # arch -> mean test accuracy (%) over seeds
    predictions: ProbePredictions
    deepest: int | None = None  # the depth the compared layers are numbered in (gmnrep.representations.compared_layers)

    @property
    def models(self) -> set[tuple[str, int]]:
        return {m for t in self.tables for m in (t.model_a, t.model_b)} | set(self.predictions.by_model)

    def seeds_of(self, arch: str) -> list[int]:
        """The seeds of `arch`'s models in this run: its own, whatever the other architectures have."""
        return sorted(seed for model_arch, seed in self.models if model_arch == arch)

    @property
    def subjects(self) -> list[str]:
        """The weight-space architectures the claims are stated of: those in the run (the first
        registered, e.g. the GMN, when there is none, so that the rows say what is missing)."""
        archs = {arch for arch, _ in self.models}
        return [arch for arch in WEIGHT_SPACE_ARCHS if arch in archs] or [WEIGHT_SPACE_ARCHS[0]]


def _cka_row(
    evidence: DatasetEvidence,
    claim: str,
    subject: str,
    higher: str,
    lower: str,
    layer: int,
    settings: ClaimSettings,
    accuracy_gap: float | None = None,
) -> dict:
    """One C1 or C2 row of `subject`: is pairing `lower` below pairing `higher` at CKA(layer, layer)?"""
    groups = by_pairing(evidence.tables)
    row = {
        "dataset": evidence.dataset,
        "claim": claim,
        "subject": subject,
        "layer": layer,
        "comparison": f"{pairing_title(lower)} < {pairing_title(higher)}",
        "statistic": f"mean CKA({layer}, {layer}): {pairing_title(higher)} - {pairing_title(lower)}",
    }
    missing = [pairing_title(name) for name in (higher, lower) if name not in groups]
    if missing:
        return row | {"verdict": INCONCLUSIVE, "reason": f"no {' or '.join(missing)} pairs in this run"}
    matrices = {name: _pairing_matrix(evidence, groups[name], layer) for name in (higher, lower)}
    counts = models_per_architecture(matrices[lower], matrices[higher])  # the compared pairing first
    models = ", ".join(f"{ARCH_TITLES[arch]} {count}" for arch, count in counts.items())
    fewest = min(counts.values())
    difference = mean_difference(matrices[higher], matrices[lower], settings.min_seeds, settings.confidence)
    chance = pairing_chance(evidence.floors, groups[lower], layer, evidence.deepest)
    row |= {
        "value": round(difference.value, 4),
        "chance_cka": round(chance, 4),
        "sample_size": f"models: {models}; {len(groups[higher])} {pairing_title(higher)} and "
        f"{len(groups[lower])} {pairing_title(lower)} pairs; {difference.probe_blocks} probe blocks",
    }
    means = {name: m.mean() for name, m in matrices.items()}
    said = (
        f"{pairing_title(lower)} {means[lower]:.3f} vs {pairing_title(higher)} {means[higher]:.3f} "
        f"(chance {chance:.3f})"
    )
    if difference.interval is None:
        why = f"{fewest} seed(s) of an architecture: a jackknife over models needs at least {settings.min_seeds}"
        return row | {"verdict": INCONCLUSIVE, "reason": f"{said}; {why}"}
    low, high = difference.interval
    verdict = interval_verdict(difference)
    row |= {"ci_low": round(low, 4), "ci_high": round(high, 4)}
    reason = (
        f"{said}; {100 * settings.confidence:g}% t interval, jackknife over each architecture's models ({models}) "
        f"and {difference.probe_blocks} probe blocks ({difference.degrees_of_freedom} df: the fewest models less one)"
    )
    if verdict == INCONCLUSIVE and fewest < FEW_SEEDS:
        reason += f"; too few seeds to resolve a difference of {abs(difference.value):.3f}"
    if accuracy_gap is not None:
        row["accuracy_gap"] = round(accuracy_gap, 2)
        if verdict == HOLDS and accuracy_gap > settings.accuracy_gap_bound:
            verdict = CONFOUNDED
            reason += (
                f"; but test accuracies differ by {accuracy_gap:.1f} points (bound {settings.accuracy_gap_bound:g})"
            )
    return row | {"verdict": verdict, "reason": reason}


def _pairing_matrix(evidence: DatasetEvidence, group: list[CkaTable], layer: int) -> PairingMatrix:
    """The pairing's matrices over each architecture's own models; refused when one of them is in
    none of the pairing's tables (a missing CKA table would otherwise shrink its jackknife)."""
    values, blocks = {}, {}
    for table in group:
        values[table.name] = table.compared(layer, evidence.deepest)
        without = evidence.without_blocks.get(table.name)
        if without is None:
            raise DataError(f"{table.path}: no block table of pair {table.name} (cka/{table.name}.blocks.csv)")
        if layer not in without:
            raise DataError(f"{table.path}: its block table holds layers {sorted(without)}, not {layer}")
        blocks[table.name] = without[layer]
    counts = {len(b) for b in blocks.values()}
    if len(counts) > 1:
        raise DataError(f"{group[0].path}: the block tables of its pairing differ in their number of probe blocks")
    (count,) = counts
    archs = tuple(group[0].pairing.split("-"))
    seeds = [evidence.seeds_of(arch) for arch in archs]
    matrix = seed_matrix(values, group, *seeds)
    for axis, (arch, arch_seeds) in enumerate(zip(archs, seeds)):
        compared = np.isfinite(matrix).any(axis=1 - axis)
        absent = [seed for seed, seen in zip(arch_seeds, compared) if not seen]
        if absent:
            raise DataError(
                f"{group[0].path.parent}: no {group[0].pairing} CKA table holds {arch} seed(s) {absent}, "
                "models of this run; make their CKA tables or leave the models out"
            )
    return PairingMatrix(
        archs,
        matrix,
        np.stack([seed_matrix({name: b[j] for name, b in blocks.items()}, group, *seeds) for j in range(count)]),
    )


# The image networks each claim is tested against: the converged ones, and their accuracy-matched twins.
IMAGE_FAMILIES = {"image network": IMAGE_ARCHS, "matched image network": MATCHED_ARCHS}


def tested_families(evidence: DatasetEvidence) -> dict[str, tuple[str, str]]:
    """The image families to test against: the converged networks always (a run without them says
    so in its rows), the matched ones when the run has any of them."""
    archs = {m[0] for t in evidence.tables for m in (t.model_a, t.model_b)}
    archs |= {arch for arch, _ in evidence.predictions.by_model}
    return {name: family for name, family in IMAGE_FAMILIES.items() if family == IMAGE_ARCHS or archs & set(family)}


def seed_sensitivity_rows(evidence: DatasetEvidence, layers, settings: ClaimSettings) -> list[dict]:
    """C1 of each subject W at each layer: W-W against MLP-MLP and against CNN-CNN, for each tested
    image family."""
    return [
        _cka_row(evidence, "C1", subject, f"{other}-{other}", f"{subject}-{subject}", layer, settings)
        for subject in evidence.subjects
        for family in tested_families(evidence).values()
        for layer in layers
        for other in family
    ]


def representation_rows(evidence: DatasetEvidence, layers, settings: ClaimSettings) -> list[dict]:
    """C2 of each subject W at each layer: W-MLP and W-CNN against MLP-CNN, with the accuracy gap
    between W and that image network, for each tested image family."""
    rows = []
    for subject in evidence.subjects:
        for first, second in tested_families(evidence).values():
            for layer in layers:
                for other in (first, second):
                    known = all(arch in evidence.accuracy for arch in (subject, other))
                    gap = abs(evidence.accuracy[other] - evidence.accuracy[subject]) if known else None
                    higher, lower = f"{first}-{second}", f"{subject}-{other}"
                    rows.append(_cka_row(evidence, "C2", subject, higher, lower, layer, settings, gap))
    return rows


# --- C3: complementary predictions against class-stratified independence and an image reference --


def _stratified_row(
    evidence: DatasetEvidence, settings: ClaimSettings, subject: str, weight: np.ndarray, image: np.ndarray, family: str
) -> dict:
    """Every `subject` model right and every network of the image `family` wrong, against
    independence within each class."""
    label = evidence.predictions.label
    right, wrong = weight.all(axis=0), ~image.any(axis=0)
    observed = int((right & wrong).sum())
    distribution = stratified_count_distribution(label, right, wrong)
    expected = float(np.arange(len(distribution)) @ distribution)
    upper = min(float(distribution[observed:].sum()), 1.0)  # a sum of probabilities may round above 1
    lower = float(distribution[: observed + 1].sum())
    if upper < settings.alpha:
        verdict, why = HOLDS, "more than if independent within each class"
    elif lower < settings.alpha:
        verdict, why = (
            DOES_NOT_HOLD,
            f"fewer than if independent within each class: P(count <= {observed}) = {lower:.2g}",
        )
    else:
        verdict, why = INCONCLUSIVE, f"within chance of independence: P(count <= {observed}) = {lower:.2g}"
    return {
        "comparison": f"every {ARCH_TITLES[subject]} right, every {family} wrong",
        "statistic": "probe samples, against the count if correctness were independent within each class",
        "value": observed,
        "p_value": float(f"{upper:.4g}"),
        "expected": round(expected, 2),
        "verdict": verdict,
        "reason": f"{observed} observed, {expected:.1f} expected; P(count >= {observed}) = {upper:.2g}; {why}",
    }


def _reference_row(predictions, settings: ClaimSettings, subject: str, other: str, family: tuple[str, str]) -> dict:
    """Is `subject` more complementary to image architecture `other` than the remaining one of its
    `family` is, beyond each model's accuracy and each sample's shared difficulty?
    T = #(every `subject` right, every `other` wrong) - #(every reference right, every `other` wrong)
    exactly under the Rasch null and over the probe samples and models (complementarity.reference_test)."""
    (reference,) = [arch for arch in family if arch != other]
    correct = {arch: family_members(predictions, arch) for arch in (subject, other, reference)}
    title, other_title, reference_title = ARCH_TITLES[subject], ARCH_TITLES[other], ARCH_TITLES[reference]
    row = {
        "comparison": f"every {title} right, every {other_title} wrong, against every {reference_title} right",
        "statistic": (
            f"probe samples ({title} right, {other_title} wrong) minus ({reference_title} right, {other_title} wrong), "
            "against shared difficulty"
        ),
    }
    if any(not len(c) for c in correct.values()):
        return row | {
            "verdict": INCONCLUSIVE,
            "reason": f"needs {registry.plural(subject)}, {registry.plural(other)} and {registry.plural(reference)}",
        }
    fewest = min(len(c) for c in correct.values())
    if fewest < settings.min_seeds:
        why = f"{fewest} seed(s) of an architecture: a jackknife over models needs at least {settings.min_seeds}"
        return row | {"verdict": INCONCLUSIVE, "reason": why}
    test = reference_test(correct[subject], correct[reference], correct[other], settings.null_draws, settings.seed)
    tail = settings.alpha / 2
    verdict = HOLDS if test.p_more < tail else DOES_NOT_HOLD if test.p_less < tail else INCONCLUSIVE
    relation = {HOLDS: "more", DOES_NOT_HOLD: "less", INCONCLUSIVE: "not resolvably more or less"}[verdict]
    p_value = test.p_more if verdict != DOES_NOT_HOLD else test.p_less
    side = ">=" if verdict != DOES_NOT_HOLD else "<="
    return row | {
        "value": test.statistic,
        "p_value": float(f"{p_value:.4g}"),
        "expected": round(test.null_mean, 2),
        "verdict": verdict,
        "reason": (
            f"the {registry.plural(subject)} are {relation} complementary to the {registry.plural(other)} than the "
            f"{registry.plural(reference)} are, beyond shared difficulty; joint counts: {test.candidate_count} "
            f"(every {title} right, every {other_title} wrong) and {test.reference_count} (every {reference_title} "
            f"right, every {other_title} wrong); difference {test.statistic}, {test.null_mean:.1f} expected; "
            f"P(difference {side} {test.statistic}) = {p_value:.2g}: the larger of the exact p under the Rasch null "
            f"({test.draws} curveball draws) and the p over the probe samples and the models"
        ),
    }


def complementary_rows(evidence: DatasetEvidence, settings: ClaimSettings) -> list[dict]:
    """C3 of each subject W, for each tested image family: the W-only count against class-stratified
    independence; W's complementarity to each image architecture against the family's other one's;
    the reverse count as context."""
    rows = []
    for subject in evidence.subjects:
        for name, family in tested_families(evidence).items():
            rows += complementary_family_rows(evidence, settings, subject, name, family)
    return rows


def complementary_family_rows(
    evidence: DatasetEvidence, settings: ClaimSettings, subject: str, name: str, family: tuple[str, str]
) -> list[dict]:
    """C3 of `subject` against one image `family` (called `name`): the stratified count, the two
    reference rows (against each image architecture) and the reverse count."""
    predictions = evidence.predictions
    weight, image = family_correctness(predictions, subject, family)
    title, plural = ARCH_TITLES[subject], registry.plural(subject)
    base = {"dataset": evidence.dataset, "claim": "C3", "subject": subject}
    size = f"{len(predictions.label)} probe samples; {len(weight)} {plural}, {len(image)} {name}s"
    if not len(weight) or not len(image):
        missing = {"verdict": INCONCLUSIVE, "reason": f"needs {plural} and {name}s in this run"}
        return [base | {"comparison": f"every {title} right, every {name} wrong"} | missing]
    rows = [_stratified_row(evidence, settings, subject, weight, image, name)]
    rows += [_reference_row(predictions, settings, subject, other, family) for other in family]
    reverse = int((image.all(axis=0) & ~weight.any(axis=0)).sum())
    rows.append(
        {
            "comparison": f"every {name} right, every {title} wrong",
            "statistic": "probe samples (the reverse direction: shown, not judged)",
            "value": reverse,
            "verdict": CONTEXT,
            "reason": f"{reverse} samples; context for the {title}-only count, not part of the claim",
        }
    )
    return [base | {"sample_size": size} | row for row in rows]


# --- reading the evidence ---------------------------------------------------------------------------


def mean_accuracies(metrics_paths: list[Path], dataset: str) -> dict[str, float]:
    """arch -> mean test accuracy (%) over the seeds of `dataset` among the metrics records."""
    by_arch = {}
    for path in metrics_paths:
        record = read_metrics(path)
        if record["dataset"] == dataset:
            by_arch.setdefault(record["arch"], []).append(100 * record["test_acc"])
    return {arch: float(np.mean(values)) for arch, values in by_arch.items()}


def claim_rows(
    tables_by_dataset: dict[str, list[Path]],
    blocks_by_dataset: dict[str, list[Path]],
    chance_by_dataset: dict[str, list[Path]],
    dumps_by_dataset: dict[str, list[Path]],
    metrics_paths: list[Path],
    layers,
    settings: ClaimSettings,
    deepest: int | None = None,
) -> list[dict]:
    """Every claim's rows, per dataset in the paper's order; missing columns are empty. `layers` are
    numbered as in networks of `deepest` layers (gmnrep.representations.compared_layers)."""
    rows = []
    for dataset in ordered_datasets(tables_by_dataset, chance_by_dataset, dumps_by_dataset):
        evidence = DatasetEvidence(
            dataset=dataset,
            tables=read_cka_tables(tables_by_dataset[dataset], dataset),
            without_blocks=dict(read_block_table(path, dataset) for path in blocks_by_dataset.get(dataset, [])),
            floors=read_chance_floors(chance_by_dataset[dataset], dataset),
            accuracy=mean_accuracies(metrics_paths, dataset),
            predictions=read_predictions(dumps_by_dataset[dataset], dataset),
            deepest=deepest,
        )
        rows += seed_sensitivity_rows(evidence, layers, settings)
        rows += representation_rows(evidence, layers, settings)
        rows += complementary_rows(evidence, settings)
    return [{column: row.get(column, "") for column in COLUMNS} for row in rows]
