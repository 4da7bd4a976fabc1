"""The paper's three findings as claims, tested on this run's numbers, each with a verdict.

C1, seed sensitivity: GMN-GMN CKA(l, l) is lower than MLP-MLP and than CNN-CNN.
C2, different representations at similar accuracy: GMN-MLP and GMN-CNN CKA(l, l) are lower than
    MLP-CNN, while the GMNs' test accuracy is close to the image networks'.
C3, complementary predictions: more probe samples than chance are classified correctly by every
    GMN seed and wrongly by every MLP and CNN seed (Figure 4's count).

How C1 and C2 are tested. The pairs of a pairing share models (with 5 seeds, each model is in 4 of
the 10 GMN-GMN pairs), so the pairs are not independent samples and a test over pairs would
overstate the evidence. The unit of replication is the trained model. The statistic is a
difference of mean CKA(l, l) between two pairings (e.g. MLP-MLP minus GMN-GMN), over the compared
pairs (config cka.pairs; `all` gives every pair). Its interval is a percentile bootstrap over
models: a replicate draws, for each architecture independently (its trainings are independent of
the other architectures', whatever their seeds), k of its k models with replacement, and recomputes
each pairing's mean over the compared pairs among the drawn models, each weighted by how often its
two models were drawn; a model is never paired with itself, and a replicate in which a pairing has
no pair is dropped. An architecture in both pairings (the MLP in C2's GMN-MLP against MLP-CNN)
uses one draw for both. A permutation test over architecture labels is not used: relabelling a GMN
as an MLP turns GMN-GMN pairs into GMN-MLP pairs, whose CKA differs for reasons other than the claim.

Verdicts (CKA values within CKA_TOLERANCE count as equal):
- holds: the interval lies above 0 (the claimed ordering, beyond seed-to-seed variation);
- does not hold: the interval lies at or below 0 (no such ordering: e.g. identical models);
- inconclusive: the interval contains 0, fewer than `min_seeds` seeds (no interval over models), or
  a pairing is missing;
- confounded (C2 only): it would hold, but the GMNs' mean test accuracy differs from the image
  network's by more than `accuracy_gap_bound` points, so the CKA gap need not be "despite similar
  accuracies".

How C3 is tested. Per probe sample: a = every GMN right, b = every image network wrong. If GMN
correctness and image-network correctness were independent across samples, the count of a & b
would be N p_a p_b on average (p_a, p_b: the observed rates). Under the permutation null (GMN
outcomes shuffled across samples against the image networks'), the count is hypergeometric:
sum(a & b) ~ Hypergeometric(N, sum(a), sum(b)), whose tails are computed exactly (every
permutation, no Monte Carlo). holds: P(count >= observed) < alpha; does not hold: P(count <=
observed) < alpha (fewer than chance: the families fail on the same samples); else inconclusive.
The reverse count (every image network right, every GMN wrong) is tested the same way.

The chance floor beside C1 and C2 is the mean chance CKA (gmnrep.representations.similarity) of the models of the
pairing claimed lower: what unrelated representations give at this N and width.
"""

from dataclasses import dataclass
from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.tables import (
    ARCH_TITLES,
    CKA_TOLERANCE,
    DATASET_TITLES,
    IMAGE_ARCHS,
    CkaTable,
    by_pairing,
    family_correctness,
    latex_table,
    markdown_table,
    ordered_datasets,
    pairing_chance,
    pairing_title,
    read_chance_floors,
    read_cka_tables,
    read_metrics,
    read_predictions,
)

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED = "holds", "does not hold", "inconclusive", "confounded"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED)
CLAIMS = {
    "C1": "seed sensitivity: GMN-GMN CKA is lower than MLP-MLP and CNN-CNN",
    "C2": "different representations at similar accuracy: GMN-MLP and GMN-CNN CKA are lower than MLP-CNN",
    "C3": (
        "complementary predictions: more samples than chance are right for every GMN and wrong for every image network"
    ),
}
COLUMNS = (
    "dataset",
    "claim",
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


# --- C1 and C2: differences of mean CKA, bootstrapped over models ------------------------------


def seed_matrix(group: list[CkaTable], seeds: list[int], layer: int) -> np.ndarray:
    """CKA(layer, layer) of a pairing's pairs by seed: m[i, j] compares seeds[i] of the first
    architecture with seeds[j] of the second; NaN where not compared. Within an architecture it is
    symmetric, with a NaN diagonal (a model is not compared with itself)."""
    position = {seed: i for i, seed in enumerate(seeds)}
    matrix = np.full((len(seeds), len(seeds)), np.nan)
    for table in group:
        table.require_layers([layer], matched=True)
        i, j = position[table.model_a[1]], position[table.model_b[1]]
        matrix[i, j] = table.cka[layer - 1, layer - 1]
        if table.model_a[0] == table.model_b[0]:
            matrix[j, i] = matrix[i, j]
    if group and group[0].model_a[0] == group[0].model_b[0]:
        np.fill_diagonal(matrix, np.nan)
    return matrix


def seed_resamples(architectures: list[str], num_seeds: int, replicates: int, seed: int) -> dict[str, np.ndarray]:
    """Per architecture, (replicates, num_seeds): how often each of its models is drawn in each
    bootstrap replicate; architectures drawn independently, in the given order, from one seeded stream."""
    rng = np.random.default_rng(seed)
    return {
        arch: rng.multinomial(num_seeds, np.full(num_seeds, 1 / num_seeds), size=replicates) for arch in architectures
    }


def weighted_means(matrix: np.ndarray, draws_a: np.ndarray, draws_b: np.ndarray) -> np.ndarray:
    """Per replicate (row of the draws), the mean of the compared cells of `matrix`, cell (i, j)
    weighted by draws_a[i] * draws_b[j]; NaN for a replicate that draws no compared pair."""
    compared = np.isfinite(matrix)
    weights = draws_a[:, :, None] * draws_b[:, None, :] * compared
    total = weights.sum(axis=(1, 2))
    weighted = (weights * np.where(compared, matrix, 0.0)).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weighted / np.maximum(total, 1), np.nan)


@dataclass
class PairingMatrix:
    """A pairing's CKA(l, l) by seed (seed_matrix), with its two architectures."""

    archs: tuple[str, str]
    values: np.ndarray

    def means(self, draws: dict[str, np.ndarray]) -> np.ndarray:
        return weighted_means(self.values, draws[self.archs[0]], draws[self.archs[1]])

    def mean(self) -> float:
        ones = np.ones((1, len(self.values)))
        return float(weighted_means(self.values, ones, ones)[0])


@dataclass
class Difference:
    value: float  # mean of `higher` minus mean of `lower`, over every compared pair
    interval: tuple[float, float] | None  # None: too few seeds for an interval over models
    replicates: int  # bootstrap replicates in which both pairings had a pair


def mean_difference(higher: PairingMatrix, lower: PairingMatrix, settings: ClaimSettings) -> Difference:
    """mean(higher) - mean(lower) with its percentile bootstrap interval over models."""
    value = higher.mean() - lower.mean()
    num_seeds = len(higher.values)
    if num_seeds < settings.min_seeds:
        return Difference(value, None, 0)
    architectures = sorted({*higher.archs, *lower.archs}, key=list(ARCH_TITLES).index)
    draws = seed_resamples(architectures, num_seeds, settings.bootstrap_replicates, settings.seed)
    replicates = higher.means(draws) - lower.means(draws)
    replicates = replicates[np.isfinite(replicates)]
    if not len(replicates):
        return Difference(value, None, 0)
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return Difference(value, (float(low), float(high)), len(replicates))


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
    floors: dict  # Model -> chance CKA per layer
    accuracy: dict[str, float]  # arch -> mean test accuracy (%) over seeds
    predictions: object  # tables.ProbePredictions

    @property
    def seeds(self) -> list[int]:
        models = {m for t in self.tables for m in (t.model_a, t.model_b)} | set(self.predictions.by_model)
        return sorted({seed for _, seed in models})


def _cka_row(
    evidence: DatasetEvidence,
    claim: str,
    higher: str,
    lower: str,
    layer: int,
    settings: ClaimSettings,
    accuracy_gap: float | None = None,
) -> dict:
    """One C1 or C2 row: is pairing `lower` below pairing `higher` at CKA(layer, layer)?"""
    groups = by_pairing(evidence.tables)
    row = {
        "dataset": evidence.dataset,
        "claim": claim,
        "layer": layer,
        "comparison": f"{pairing_title(lower)} < {pairing_title(higher)}",
        "statistic": f"mean CKA({layer}, {layer}): {pairing_title(higher)} - {pairing_title(lower)}",
    }
    missing = [pairing_title(name) for name in (higher, lower) if name not in groups]
    if missing:
        return row | {"verdict": INCONCLUSIVE, "reason": f"no {' or '.join(missing)} pairs in this run"}
    seeds = evidence.seeds
    matrices = {
        name: PairingMatrix(tuple(name.split("-")), seed_matrix(groups[name], seeds, layer)) for name in (higher, lower)
    }
    difference = mean_difference(matrices[higher], matrices[lower], settings)
    chance = pairing_chance(evidence.floors, groups[lower], layer)
    row |= {
        "value": round(difference.value, 4),
        "chance_cka": round(chance, 4),
        "sample_size": f"{len(seeds)} seeds; {len(groups[higher])} {pairing_title(higher)} and "
        f"{len(groups[lower])} {pairing_title(lower)} pairs",
    }
    means = {name: m.mean() for name, m in matrices.items()}
    said = (
        f"{pairing_title(lower)} {means[lower]:.3f} vs {pairing_title(higher)} {means[higher]:.3f} "
        f"(chance {chance:.3f})"
    )
    if difference.interval is None:
        why = f"{len(seeds)} seed(s): an interval over models needs at least {settings.min_seeds}"
        return row | {"verdict": INCONCLUSIVE, "reason": f"{said}; {why}"}
    low, high = difference.interval
    verdict = interval_verdict(difference)
    row |= {"ci_low": round(low, 4), "ci_high": round(high, 4)}
    reason = f"{said}; {settings.confidence:.0%} interval over {difference.replicates} model resamples"
    if accuracy_gap is not None:
        row["accuracy_gap"] = round(accuracy_gap, 2)
        if verdict == HOLDS and accuracy_gap > settings.accuracy_gap_bound:
            verdict = CONFOUNDED
            reason += (
                f"; but test accuracies differ by {accuracy_gap:.1f} points (bound {settings.accuracy_gap_bound:g})"
            )
    return row | {"verdict": verdict, "reason": reason}


def seed_sensitivity_rows(evidence: DatasetEvidence, layers, settings: ClaimSettings) -> list[dict]:
    """C1 at each layer: GMN-GMN against MLP-MLP and against CNN-CNN."""
    return [
        _cka_row(evidence, "C1", f"{other}-{other}", "gmn-gmn", layer, settings)
        for layer in layers
        for other in IMAGE_ARCHS
    ]


def representation_rows(evidence: DatasetEvidence, layers, settings: ClaimSettings) -> list[dict]:
    """C2 at each layer: GMN-MLP and GMN-CNN against MLP-CNN, with the accuracy gap to that image network."""
    rows = []
    for layer in layers:
        for other in IMAGE_ARCHS:
            known = all(arch in evidence.accuracy for arch in ("gmn", other))
            gap = abs(evidence.accuracy[other] - evidence.accuracy["gmn"]) if known else None
            rows.append(_cka_row(evidence, "C2", "mlp-cnn", f"gmn-{other}", layer, settings, gap))
    return rows


# --- C3: complementary predictions against independence ----------------------------------------


def hypergeometric_tails(population: int, marked: int, drawn: int, observed: int) -> tuple[float, float]:
    """P(X >= observed) and P(X <= observed) for X ~ Hypergeometric(population, marked, drawn): the
    overlap of a random `drawn`-subset with `marked` items. Exact (integer arithmetic)."""

    def ways(x: int) -> int:
        return comb(marked, x) * comb(population - marked, drawn - x)

    smallest, largest = max(0, drawn - (population - marked)), min(marked, drawn)
    total = comb(population, drawn)
    upper = sum(ways(x) for x in range(max(observed, smallest), largest + 1))
    lower = sum(ways(x) for x in range(smallest, min(observed, largest) + 1))
    return float(Fraction(upper, total)), float(Fraction(lower, total))


def complementary_rows(evidence: DatasetEvidence, settings: ClaimSettings) -> list[dict]:
    """C3: every GMN right and every image network wrong, and the reverse, against independence."""
    predictions = evidence.predictions
    gmn, image = family_correctness(predictions)
    directions = {
        "every GMN right, every image network wrong": (gmn, image),
        "every image network right, every GMN wrong": (image, gmn),
    }
    rows = []
    for comparison, (right, wrong) in directions.items():
        row = {
            "dataset": evidence.dataset,
            "claim": "C3",
            "comparison": comparison,
            "statistic": "probe samples, against the count if the families' errors were independent",
        }
        if not len(gmn) or not len(image):
            rows.append(row | {"verdict": INCONCLUSIVE, "reason": "needs GMNs and image networks in this run"})
            continue
        a, b = right.all(axis=0), ~wrong.any(axis=0)
        n, observed = len(a), int((a & b).sum())
        expected = n * a.mean() * b.mean()
        upper, lower = hypergeometric_tails(n, int(a.sum()), int(b.sum()), observed)
        if upper < settings.alpha:
            verdict, why = HOLDS, "more than if independent"
        elif lower < settings.alpha:
            verdict, why = DOES_NOT_HOLD, f"fewer than if independent: P(count <= {observed}) = {lower:.2g}"
        else:
            verdict, why = INCONCLUSIVE, f"within chance of independence: P(count <= {observed}) = {lower:.2g}"
        rows.append(
            row
            | {
                "value": observed,
                "p_value": float(f"{upper:.4g}"),
                "expected": round(expected, 2),
                "sample_size": f"{n} probe samples; {len(gmn)} GMNs, {len(image)} image networks",
                "verdict": verdict,
                "reason": f"{observed} observed, {expected:.1f} expected; P(count >= {observed}) = {upper:.2g}; {why}",
            }
        )
    return rows


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
    return str(row["value"]) if row["claim"] == "C3" else f"{row['value']:.3f}"


def _cells(row: dict) -> list[str]:
    chance = "" if row["chance_cka"] == "" else f"{row['chance_cka']:.3f}"
    return [
        DATASET_TITLES[row["dataset"]],
        row["claim"],
        row["comparison"],
        str(row["layer"]),
        _value(row),
        _interval_or_p(row),
        chance,
        row["verdict"],
    ]


HEADER = ["Dataset", "Claim", "Comparison", "Layer", "Value", "95% interval / p", "Chance CKA", "Verdict"]


def claims_markdown(rows: list[dict]) -> str:
    return markdown_table([*HEADER, "Why"], [[*_cells(r), r["reason"]] for r in rows])


def claims_latex(rows: list[dict]) -> str:
    body = [[cell.replace("%", r"\%").replace("<", "$<$") for cell in _cells(r)] for r in rows]
    return latex_table("lllrrlrl", [h.replace("%", r"\%") for h in HEADER], body)


def claim_verdicts(rows: list[dict]) -> dict[tuple[str, str], str]:
    """(dataset, claim) -> one verdict when all its rows agree, else e.g. 'mixed: 2 holds, 2 inconclusive'."""
    grouped = {}
    for row in rows:
        grouped.setdefault((row["dataset"], row["claim"]), []).append(row["verdict"])
    summary = {}
    for key, verdicts in grouped.items():
        counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
        summary[key] = verdicts[0] if len(counts) == 1 else "mixed: " + ", ".join(f"{n} {v}" for v, n in counts.items())
    return summary


def findings_markdown(rows: list[dict], source: str) -> str:
    """The README's "What this run found": each claim's verdict per dataset, then the table."""
    lines = [f"Generated from `{source}` by `gmnrep findings`; the rules are in `gmnrep.paper.claims`.", ""]
    for (dataset, claim), verdict in claim_verdicts(rows).items():
        lines.append(f"- {DATASET_TITLES[dataset]}, {claim} ({CLAIMS[claim]}): **{verdict}**")
    return "\n".join(lines) + "\n\n" + claims_markdown(rows)


def write_claims(rows: list[dict], csv_path: Path, markdown_path: Path, latex_path: Path) -> None:
    """claim_rows' rows as CSV, Markdown and LaTeX."""
    if not rows:
        raise DataError(f"{csv_path}: no datasets to test the claims on")
    write_texts(
        {
            Path(csv_path): to_csv(rows, COLUMNS),
            Path(markdown_path): claims_markdown(rows),
            Path(latex_path): claims_latex(rows),
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
            if row["claim"] == "C3" and row["value"] != "":
                row["value"] = int(row["value"])
            row["layer"] = int(row["layer"]) if row["layer"] else ""
    except ValueError as exc:
        raise DataError(f"{path}: a number of the claims table is not a number ({exc})") from None
    return [{column: row[column] for column in COLUMNS} for row in rows]
