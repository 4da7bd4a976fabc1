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

How C1 and C2 are tested. The pairs of a pairing share models (with 5 seeds, each model is in 4 of
the 10 GMN-GMN pairs), so the pairs are not independent samples and a test over pairs would
overstate the evidence. The unit of replication is the trained model. The statistic is a
difference of mean CKA(l, l) between two pairings (e.g. MLP-MLP minus GMN-GMN), over the compared
pairs (config cka.pairs; `all` gives every pair). Its interval is value +- t * sqrt(V), with V a sum
of delete-one jackknife variances, one per independent source of variation:
- each architecture's models (their trainings are independent of the other architectures',
  whatever their seeds): replicate i leaves model i out of every pair it is in, in both pairings
  (the MLP in C2's GMN-MLP against MLP-CNN leaves both); V_A = (k - 1)/k sum (D_i - mean D)^2;
- the probe samples, shared by every pair: replicate j recomputes every pair's CKA without probe
  block j (the pair jobs' block tables), V_P the same formula over the B blocks.
t is Student's with Welch-Satterthwaite degrees of freedom V^2 / sum V_s^2 / df_s (df: k - 1 per
architecture, B - 1 for the blocks). A percentile bootstrap over models was tried and replaced: at
3 seeds its interval is a range rule over four values per pairing, and under the null it said
`holds` 6-10% of the time against the nominal 2.5%. This interval's rate under the null, at 3, 5
and 10 seeds with and without per-model effects and probe noise that does not cancel, is simulated
in gmnrep.paper.calibration (a test pins it; bench/claims_calibration.py prints the table). A
permutation test over architecture labels is not used: relabelling a GMN as an MLP turns GMN-GMN
pairs into GMN-MLP pairs, whose CKA differs for reasons other than the claim.

Verdicts (CKA values within CKA_TOLERANCE count as equal):
- holds: the interval lies above 0 (the claimed ordering, beyond seed-to-seed and probe variation);
- does not hold: the interval lies at or below 0 (no such ordering: e.g. identical models);
- inconclusive: the interval contains 0 (below FEW_SEEDS seeds the reason says "too few seeds to
  resolve"), fewer than `min_seeds` seeds (no jackknife), or a pairing is missing;
- confounded (C2 only): it would hold, but the GMNs' mean test accuracy differs from the image
  network's by more than `accuracy_gap_bound` points, so the CKA gap need not be "despite similar
  accuracies". The same bound applies to the matched rows: a matched network within it is not
  confounded; one that never reached the GMNs' accuracy (or overshot it) can be.

How C3 is tested. Per probe sample: a = every GMN right, b = every image network wrong.
(1) The count of a & b against class-stratified independence: within each class c the GMN outcomes
are exchangeable across its samples, so the count is a sum over classes of independent
Hypergeometric(N_c, sum_c a, sum_c b), whose distribution (their convolution) is exact. Holding
the class margins fixed keeps label difficulty (a class every model gets wrong) from reading as
"the families fail together". holds: P(count >= observed) < alpha; does not hold: P(count <=
observed) < alpha; else inconclusive.
(2) Against a reference: shared difficulty within a class still pushes any two families' errors
together. For each image architecture X and the other one Y, the odds ratio of (every GMN right,
every X wrong) over the samples, divided by the same odds ratio of (every Y right, every X wrong),
with a percentile interval over paired bootstrap resamples of the probe samples: above 1 (holds),
the GMNs are more complementary to X than another image architecture is; below 1, less (does not
hold). 0.5 is added to each cell of each 2x2 table (Haldane-Anscombe).
The reverse count (every image network right, every GMN wrong) is shown as context, not judged.

The chance floor beside C1 and C2 is the mean chance CKA (gmnrep.representations.similarity) of the
models of the pairing claimed lower: what unrelated representations give at this N and width.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import hypergeom
from scipy.stats import t as student_t

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.models import registry
from gmnrep.paper.tables import (
    ARCH_TITLES,
    CKA_TOLERANCE,
    DATASET_TITLES,
    IMAGE_ARCHS,
    MATCHED_ARCHS,
    WEIGHT_SPACE_ARCHS,
    CkaTable,
    by_pairing,
    family_correctness,
    family_members,
    latex_table,
    markdown_table,
    ordered_datasets,
    pairing_chance,
    pairing_title,
    read_block_table,
    read_chance_floors,
    read_cka_tables,
    read_metrics,
    read_predictions,
)

# Fewer seeds per architecture than this leave a jackknife t interval too wide to resolve most
# differences (k = 3: t on about 2-4 degrees of freedom); an inconclusive verdict says so.
FEW_SEEDS = 5
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED = "holds", "does not hold", "inconclusive", "confounded"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED)
CONTEXT = "context"  # a row shown beside a claim's rows, not judged and not in its verdict
BOOTSTRAP_CHUNK = 500  # resamples drawn at once: bounds the weights' memory (chunk x probe samples)
# Each claim as stated of a weight-space architecture {W} (claim_text).
CLAIMS = {
    "C1": "seed sensitivity: {W}-{W} CKA is lower than MLP-MLP and CNN-CNN",
    "C2": "different representations at similar accuracy: {W}-MLP and {W}-CNN CKA are lower than MLP-CNN",
    "C3": (
        "complementary predictions: more samples than chance are right for every {W} and wrong for every image "
        "network, and more than between two image architectures"
    ),
}
COLUMNS = (
    "dataset",
    "claim",
    "subject",
    "comparison",
    "layer",
    "verdict",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "expected",
    "chance_cka",
    "accuracy_gap",
    "sample_size",
    "reason",
)


@dataclass(frozen=True)
class ClaimSettings:
    """config `claims` (its defaults and meaning: config.yaml)."""

    bootstrap_replicates: int
    confidence: float
    alpha: float
    accuracy_gap_bound: float
    min_seeds: int
    seed: int


def claim_text(claim: str, subject: str) -> str:
    """Claim `claim` stated of weight-space architecture `subject`."""
    return CLAIMS[claim].format(W=ARCH_TITLES[subject])


# --- C1 and C2: differences of mean CKA, with a jackknife over models and probe blocks ----------


def seed_matrix(values_by_table: dict[str, float], group: list[CkaTable], seeds: list[int]) -> np.ndarray:
    """A pairing's values by seed: m[i, j] compares seeds[i] of the first architecture with
    seeds[j] of the second; NaN where not compared. Within an architecture it is symmetric, with a
    NaN diagonal (a model is not compared with itself)."""
    position = {seed: i for i, seed in enumerate(seeds)}
    matrix = np.full((len(seeds), len(seeds)), np.nan)
    for table in group:
        i, j = position[table.model_a[1]], position[table.model_b[1]]
        matrix[i, j] = values_by_table[table.name]
        if table.model_a[0] == table.model_b[0]:
            matrix[j, i] = matrix[i, j]
    return matrix


@dataclass
class PairingMatrix:
    """A pairing's CKA(l, l) by seed (seed_matrix), with its two architectures, and the same with
    each probe block left out (blocks x seeds x seeds)."""

    archs: tuple[str, str]
    values: np.ndarray
    without_blocks: np.ndarray

    def mean(self, without: tuple[str, int] | None = None) -> float:
        """Mean over the compared pairs, or over those left when model `without` = (arch, seed
        position) is left out of every pair it is in (NaN when none is left)."""
        return float(self._means(self.values[None], without)[0])

    def block_means(self) -> np.ndarray:
        """Mean over the compared pairs with each probe block left out: one per block."""
        return self._means(self.without_blocks, None)

    def _means(self, stack: np.ndarray, without: tuple[str, int] | None) -> np.ndarray:
        compared = np.isfinite(self.values)
        if without is not None:
            arch, i = without
            compared = compared.copy()
            if self.archs[0] == arch:
                compared[i, :] = False
            if self.archs[1] == arch:
                compared[:, i] = False
        if not compared.any():
            return np.full(len(stack), np.nan)
        return stack[:, compared].mean(axis=1)


def jackknife_variance(replicates: np.ndarray) -> float:
    """The delete-one jackknife's variance of a statistic from its n leave-one-out replicates:
    (n - 1) / n * sum (x_i - mean x)^2."""
    n = len(replicates)
    return float((n - 1) / n * np.sum((replicates - replicates.mean()) ** 2))


@dataclass
class Difference:
    value: float  # mean of `higher` minus mean of `lower`, over every compared pair
    interval: tuple[float, float] | None  # None: too few seeds for an interval over models
    degrees_of_freedom: float = float("nan")  # of the interval's t critical value
    probe_blocks: int = 0  # probe blocks whose leave-one-out values entered the interval


def mean_difference(higher: PairingMatrix, lower: PairingMatrix, settings: ClaimSettings) -> Difference:
    """mean(higher) - mean(lower) with a t interval whose variance has one term per source of
    variation, each a delete-one jackknife: every architecture's models (the trainings, independent
    across architectures; a model left out of every pair it is in, in both pairings) and the probe
    blocks (shared by every model). Degrees of freedom by Welch-Satterthwaite from k - 1 per
    architecture and B - 1 for the blocks. Calibrated by simulation (gmnrep.paper.calibration)."""
    value = higher.mean() - lower.mean()
    num_seeds = len(higher.values)
    if num_seeds < settings.min_seeds:
        return Difference(value, None)
    terms = []  # (variance, degrees of freedom)
    for arch in dict.fromkeys((*higher.archs, *lower.archs)):
        replicates = np.array(
            [higher.mean((arch, i)) - lower.mean((arch, i)) for i in range(num_seeds)], dtype=np.float64
        )
        if not np.isfinite(replicates).all():
            return Difference(value, None)
        terms.append((jackknife_variance(replicates), num_seeds - 1))
    probes = higher.block_means() - lower.block_means()
    probes = probes[np.isfinite(probes)]
    if len(probes) >= 2:
        terms.append((jackknife_variance(probes), len(probes) - 1))
    variance = sum(v for v, _ in terms)
    if variance == 0:  # every replicate equal (e.g. identical models): no variation to allow for
        return Difference(value, (value, value), float("inf"), len(probes))
    degrees = variance**2 / sum(v**2 / d for v, d in terms)
    half_width = float(student_t.ppf(1 - (1 - settings.confidence) / 2, degrees)) * np.sqrt(variance)
    return Difference(value, (value - half_width, value + half_width), degrees, len(probes))


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
    predictions: object  # tables.ProbePredictions

    @property
    def models(self) -> set[tuple[str, int]]:
        return {m for t in self.tables for m in (t.model_a, t.model_b)} | set(self.predictions.by_model)

    @property
    def seeds(self) -> list[int]:
        return sorted({seed for _, seed in self.models})

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
    seeds = evidence.seeds
    matrices = {name: _pairing_matrix(evidence, groups[name], seeds, layer) for name in (higher, lower)}
    difference = mean_difference(matrices[higher], matrices[lower], settings)
    chance = pairing_chance(evidence.floors, groups[lower], layer)
    row |= {
        "value": round(difference.value, 4),
        "chance_cka": round(chance, 4),
        "sample_size": f"{len(seeds)} seeds; {len(groups[higher])} {pairing_title(higher)} and "
        f"{len(groups[lower])} {pairing_title(lower)} pairs; {difference.probe_blocks} probe blocks",
    }
    means = {name: m.mean() for name, m in matrices.items()}
    said = (
        f"{pairing_title(lower)} {means[lower]:.3f} vs {pairing_title(higher)} {means[higher]:.3f} "
        f"(chance {chance:.3f})"
    )
    if difference.interval is None:
        why = f"{len(seeds)} seed(s): a jackknife over models needs at least {settings.min_seeds}"
        return row | {"verdict": INCONCLUSIVE, "reason": f"{said}; {why}"}
    low, high = difference.interval
    verdict = interval_verdict(difference)
    row |= {"ci_low": round(low, 4), "ci_high": round(high, 4)}
    reason = (
        f"{said}; {settings.confidence:.0%} t interval, jackknife over {len(seeds)} models per architecture "
        f"and {difference.probe_blocks} probe blocks ({difference.degrees_of_freedom:.1f} df)"
    )
    if verdict == INCONCLUSIVE and len(seeds) < FEW_SEEDS:
        reason += f"; too few seeds to resolve a difference of {abs(difference.value):.3f}"
    if accuracy_gap is not None:
        row["accuracy_gap"] = round(accuracy_gap, 2)
        if verdict == HOLDS and accuracy_gap > settings.accuracy_gap_bound:
            verdict = CONFOUNDED
            reason += (
                f"; but test accuracies differ by {accuracy_gap:.1f} points (bound {settings.accuracy_gap_bound:g})"
            )
    return row | {"verdict": verdict, "reason": reason}


def _pairing_matrix(evidence: DatasetEvidence, group: list[CkaTable], seeds: list[int], layer: int) -> PairingMatrix:
    values, blocks = {}, {}
    for table in group:
        table.require_layers([layer], matched=True)
        values[table.name] = table.cka[layer - 1, layer - 1]
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
    return PairingMatrix(
        tuple(group[0].pairing.split("-")),
        seed_matrix(values, group, seeds),
        np.stack([seed_matrix({name: b[j] for name, b in blocks.items()}, group, seeds) for j in range(count)]),
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


def stratified_count_distribution(label: np.ndarray, right: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """P(count = x), x = 0, 1, ..., of samples that are both `right` and `wrong` (boolean per
    sample) when, within each class, the `right` samples are a uniformly random subset of that
    class's samples of the same size: the convolution over classes of hypergeometric distributions
    Hypergeometric(N_c, right_c, wrong_c). Exact up to floating point (scipy's pmf)."""
    distribution = np.ones(1)
    for cls in np.unique(label):
        members = label == cls
        size, marked, drawn = int(members.sum()), int(right[members].sum()), int(wrong[members].sum())
        support = np.arange(min(marked, drawn) + 1)
        distribution = np.convolve(distribution, hypergeom.pmf(support, size, marked, drawn))
    return distribution


def _odds_ratios(weights: np.ndarray, right: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Odds ratio of `right` against `wrong` (booleans per sample) for each row of sample weights
    (resample counts), with 0.5 added to every cell (Haldane-Anscombe) so that an empty cell is finite."""
    cells = [
        weights @ (right & wrong),
        weights @ (right & ~wrong),
        weights @ (~right & wrong),
        weights @ (~right & ~wrong),
    ]
    both, only_right, only_wrong, neither = (np.asarray(c, dtype=np.float64) + 0.5 for c in cells)
    return both * neither / (only_right * only_wrong)


def odds_ratio_interval(
    candidate: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray], settings: ClaimSettings
) -> tuple[float, tuple[float, float]]:
    """OR(candidate) / OR(reference), each an odds ratio of (right, wrong) over the probe samples,
    with its percentile interval over paired bootstrap resamples of the samples (the same resample
    for both, so that what they share, such as sample difficulty, cancels)."""
    n = len(candidate[0])
    ratio = float(_odds_ratios(np.ones((1, n)), *candidate)[0] / _odds_ratios(np.ones((1, n)), *reference)[0])
    rng = np.random.default_rng(settings.seed)
    replicates = []
    for start in range(0, settings.bootstrap_replicates, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, settings.bootstrap_replicates - start)
        weights = rng.multinomial(n, np.full(n, 1 / n), size=size).astype(np.float64)
        replicates.append(_odds_ratios(weights, *candidate) / _odds_ratios(weights, *reference))
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(np.concatenate(replicates), [tail, 1 - tail])
    return ratio, (float(low), float(high))


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
    `family` is? OR(every `subject` right, every `other` wrong) / OR(every reference right, every `other` wrong)."""
    (reference,) = [arch for arch in family if arch != other]
    correct = {arch: family_members(predictions, arch) for arch in (subject, other, reference)}
    title, other_title, reference_title = ARCH_TITLES[subject], ARCH_TITLES[other], ARCH_TITLES[reference]
    row = {
        "comparison": f"every {title} right, every {other_title} wrong, against every {reference_title} right",
        "statistic": f"odds ratio of ({title} right, {other_title} wrong) / the same of {reference_title}",
    }
    if any(not len(c) for c in correct.values()):
        return row | {
            "verdict": INCONCLUSIVE,
            "reason": f"needs {registry.plural(subject)}, {registry.plural(other)} and {registry.plural(reference)}",
        }
    wrong = ~correct[other].any(axis=0)
    ratio, (low, high) = odds_ratio_interval(
        (correct[subject].all(axis=0), wrong), (correct[reference].all(axis=0), wrong), settings
    )
    verdict = HOLDS if low > 1 else DOES_NOT_HOLD if high < 1 else INCONCLUSIVE
    relation = {HOLDS: "more", DOES_NOT_HOLD: "less", INCONCLUSIVE: "not resolvably more or less"}[verdict]
    return row | {
        "value": round(ratio, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "verdict": verdict,
        "reason": (
            f"the {registry.plural(subject)} are {relation} complementary to the {registry.plural(other)} than the "
            f"{registry.plural(reference)} are "
            f"(odds-ratio ratio {ratio:.2f}); {settings.confidence:.0%} interval over "
            f"{settings.bootstrap_replicates} paired resamples of the probe samples"
        ),
    }


def complementary_rows(evidence: DatasetEvidence, settings: ClaimSettings) -> list[dict]:
    """C3 of each subject W, for each tested image family: the W-only count against class-stratified
    independence; W's complementarity to each image architecture against the family's other one's;
    the reverse count as context."""
    rows = []
    for subject in evidence.subjects:
        for name, family in tested_families(evidence).items():
            rows += _complementary_family_rows(evidence, settings, subject, name, family)
    return rows


def _complementary_family_rows(
    evidence: DatasetEvidence, settings: ClaimSettings, subject: str, name: str, family: tuple[str, str]
) -> list[dict]:
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


# --- reading, writing ---------------------------------------------------------------------------


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
) -> list[dict]:
    """Every claim's rows, per dataset in the paper's order; missing columns are empty."""
    rows = []
    for dataset in ordered_datasets(tables_by_dataset, chance_by_dataset, dumps_by_dataset):
        evidence = DatasetEvidence(
            dataset=dataset,
            tables=read_cka_tables(tables_by_dataset[dataset], dataset),
            without_blocks=dict(read_block_table(path, dataset) for path in blocks_by_dataset.get(dataset, [])),
            floors=read_chance_floors(chance_by_dataset[dataset], dataset),
            accuracy=mean_accuracies(metrics_paths, dataset),
            predictions=read_predictions(dumps_by_dataset[dataset], dataset),
        )
        rows += seed_sensitivity_rows(evidence, layers, settings)
        rows += representation_rows(evidence, layers, settings)
        rows += complementary_rows(evidence, settings)
    return [{column: row.get(column, "") for column in COLUMNS} for row in rows]


def _interval_or_p(row: dict) -> str:
    if row["ci_low"] != "":
        return f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    if row["p_value"] != "":
        return f"p = {row['p_value']:.2g} (expected {row['expected']:.1f})"
    return ""


def _value(row: dict) -> str:
    if row["value"] == "":
        return ""
    return str(row["value"]) if isinstance(row["value"], int) else f"{row['value']:.3f}"


def claim_cells(row: dict) -> dict[str, str]:
    """A claims row's cells as a person reads them (numbers rounded, the interval or p in one cell)."""
    return {
        "dataset": DATASET_TITLES[row["dataset"]],
        "claim": row["claim"],
        "subject": ARCH_TITLES[row["subject"]],
        "comparison": row["comparison"],
        "layer": str(row["layer"]),
        "value": _value(row),
        "interval": _interval_or_p(row),
        "chance": "" if row["chance_cka"] == "" else f"{row['chance_cka']:.3f}",
        "verdict": row["verdict"],
    }


def _cells(row: dict) -> list[str]:
    return list(claim_cells(row).values())


HEADER = ["Dataset", "Claim", "Of", "Comparison", "Layer", "Value", "95% interval / p", "Chance CKA", "Verdict"]


def claims_markdown(rows: list[dict]) -> str:
    return markdown_table([*HEADER, "Why"], [[*_cells(r), r["reason"]] for r in rows])


def claims_latex(rows: list[dict]) -> str:
    body = [[cell.replace("%", r"\%").replace("<", "$<$") for cell in _cells(r)] for r in rows]
    return latex_table("llllrrlrl", [h.replace("%", r"\%") for h in HEADER], body)


def claim_verdicts(rows: list[dict]) -> dict[tuple[str, str, str], str]:
    """(dataset, claim, subject) -> one verdict when all its rows agree, else e.g.
    'mixed: 2 holds, 2 inconclusive'."""
    grouped = {}
    for row in rows:
        if row["verdict"] == CONTEXT:
            continue
        grouped.setdefault((row["dataset"], row["claim"], row["subject"]), []).append(row["verdict"])
    summary = {}
    for key, verdicts in grouped.items():
        counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
        summary[key] = verdicts[0] if len(counts) == 1 else "mixed: " + ", ".join(f"{n} {v}" for v, n in counts.items())
    return summary


def findings_markdown(rows: list[dict], source: str) -> str:
    """The README's "What this run found": each claim's verdict per dataset, then the table."""
    lines = [f"Generated from `{source}` by `gmnrep findings`; the rules are in `gmnrep.paper.claims`.", ""]
    for (dataset, claim, subject), verdict in claim_verdicts(rows).items():
        lines.append(f"- {DATASET_TITLES[dataset]}, {claim} ({claim_text(claim, subject)}): **{verdict}**")
    return "\n".join(lines) + "\n\n" + claims_markdown(rows)


def write_claims(rows: list[dict], csv_path: Path, markdown_path: Path, latex_path: Path, findings_path: Path) -> None:
    """claim_rows' rows as CSV, Markdown and LaTeX, and the findings summary (findings_markdown)."""
    if not rows:
        raise DataError(f"{csv_path}: no datasets to test the claims on")
    write_texts(
        {
            Path(csv_path): to_csv(rows, COLUMNS),
            Path(markdown_path): claims_markdown(rows),
            Path(latex_path): claims_latex(rows),
            Path(findings_path): findings_markdown(rows, str(csv_path)),
        }
    )


def read_claims(path: Path) -> list[dict]:
    """A claims CSV as written by write_claims, numbers as numbers (empty cells stay "")."""
    rows = read_csv(Path(path), COLUMNS, "claims table")
    numeric = ("value", "ci_low", "ci_high", "p_value", "expected", "chance_cka", "accuracy_gap")
    try:
        for row in rows:
            for column in numeric:
                if row[column] != "":
                    row[column] = float(row[column])
            if row["claim"] == "C3" and row["value"] != "" and row["ci_low"] == "":
                row["value"] = int(row["value"])  # a count of probe samples
            row["layer"] = int(row["layer"]) if row["layer"] else ""
    except ValueError as exc:
        raise DataError(f"{path}: a number of the claims table is not a number ({exc})") from None
    return [{column: row[column] for column in COLUMNS} for row in rows]
