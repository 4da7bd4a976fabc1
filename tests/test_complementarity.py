"""C3's statistics (complementarity) and their calibration (complementarity_calibration), on inputs
whose answer is known: full enumeration of small matrices, and simulated nulls and alternatives."""

from dataclasses import replace
from itertools import combinations, product

import numpy as np
import pytest

from gmnrep.paper import claims_table, complementarity
from gmnrep.paper import complementarity_calibration as calibration
from gmnrep.paper.claims import ClaimSettings

SETTINGS = ClaimSettings(null_draws=200, confidence=0.99, alpha=0.05, accuracy_gap_bound=5.0, min_seeds=3, seed=0)


def test_the_stratified_count_distribution_equals_counting_every_subset_per_class():
    label = np.array([0] * 6 + [1] * 5)
    wrong = np.array([1, 1, 0, 1, 0, 0] + [1, 0, 1, 0, 0], bool)
    marked = {0: 3, 1: 2}  # how many samples of each class are "right"
    overlaps = [
        len(set(first) & set(np.flatnonzero(wrong[:6]))) + len(set(second) & set(np.flatnonzero(wrong[6:])))
        for first in combinations(range(6), marked[0])
        for second in combinations(range(5), marked[1])
    ]
    right = np.zeros(11, bool)
    right[[0, 2, 4, 6, 7]] = True
    distribution = complementarity.stratified_count_distribution(label, right, wrong)
    expected = np.bincount(overlaps, minlength=len(distribution)) / len(overlaps)
    assert distribution == pytest.approx(expected, abs=1e-12)


def test_a_curveball_sweep_keeps_every_row_and_column_sum_and_moves_the_matrix():
    rng = np.random.default_rng(0)
    matrix = rng.random((15, 300)) < np.linspace(0.2, 0.9, 15)[:, None]
    current = matrix
    for _ in range(50):
        current = complementarity.curveball_sweep(current, rng)
        assert (current.sum(axis=0) == matrix.sum(axis=0)).all() and (current.sum(axis=1) == matrix.sum(axis=1)).all()
    assert (current != matrix).mean() > 0.2


def test_the_terms_without_each_model_are_the_terms_of_the_matrix_without_its_row():
    """Each row of `per_sample_and_without_each_model` against its definition: T's terms of the
    matrix with that model's row deleted and its part one row shorter (parts of 1 to 4 models)."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        sizes = rng.integers(1, 5, size=3)
        matrix = rng.random((sizes.sum(), 30)) < rng.uniform(0.1, 0.9)
        ends = np.cumsum(sizes)
        comparison = complementarity.ReferenceComparison(
            slice(0, ends[0]), slice(ends[0], ends[1]), slice(ends[1], ends[2])
        )
        terms = comparison.per_sample_and_without_each_model(matrix)
        assert np.array_equal(terms[0], comparison.per_sample(matrix))
        for row in range(len(matrix)):
            shorter = np.cumsum(sizes - (np.searchsorted(ends, row, side="right") == np.arange(3)))
            without = complementarity.ReferenceComparison(
                slice(0, shorter[0]), slice(shorter[0], shorter[1]), slice(shorter[1], shorter[2])
            )
            assert np.array_equal(terms[1 + row], without.per_sample(np.delete(matrix, row, axis=0)))


def test_the_exact_null_of_a_tiny_matrix_matches_full_enumeration():
    """W 2 models, Y 1, X 2 on 4 samples: T's distribution over every matrix with the observed
    margins (uniform under the Rasch null) against the chain's draws."""
    observed = np.array([[1, 1, 0, 1], [1, 0, 1, 0], [0, 1, 1, 1], [0, 1, 0, 1], [1, 0, 0, 0]], bool)
    comparison = complementarity.ReferenceComparison(slice(0, 2), slice(2, 3), slice(3, 5))
    every = np.array(list(product([False, True], repeat=observed.size))).reshape(-1, *observed.shape)
    same = (every.sum(axis=2) == observed.sum(axis=1)).all(axis=1) & (every.sum(axis=1) == observed.sum(axis=0)).all(
        axis=1
    )
    enumerated = [comparison.per_sample(m).sum() for m in every[same]]
    values, _ = complementarity.rasch_chain(observed, comparison.per_sample, 20000, np.random.default_rng(1))
    values = values.sum(axis=1)
    support = np.arange(min(enumerated), max(enumerated) + 1)
    exact = np.array([np.mean(np.equal(enumerated, t)) for t in support])
    drawn = np.array([np.mean(values == t) for t in support])
    assert len(enumerated) > 10 and drawn == pytest.approx(exact, abs=0.02)


def test_the_chain_mixes_within_its_thinning():
    """The diagnostic behind THINNING_SWEEPS: successive draws' statistic nearly uncorrelated on a
    matrix with C3's shape and nonzero joint counts."""
    label, correct = calibration.synthetic_correctness(
        calibration.Scenario(difficulty=1.0, own_effect=1.5), np.random.default_rng(2)
    )
    matrix = np.concatenate([correct[arch] for arch in (calibration.W, calibration.Y, calibration.X)])
    comparison = complementarity.ReferenceComparison(slice(0, 5), slice(5, 10), slice(10, 15))
    values, _ = complementarity.rasch_chain(matrix, comparison.per_sample, 1000, np.random.default_rng(3))
    values = values.sum(axis=1)
    assert values.std() > 0 and abs(complementarity.lag_autocorrelation(values)) < 0.2


def test_the_synthetic_nulls_false_holds_rate_is_at_most_nominal():
    """Each architecture its own per-sample effects at equal accuracies, none tying W to X or Y: every
    reference row's `holds` is an error (the exact test alone said `holds` in a quarter of these),
    at most alpha / 2 plus two Monte Carlo errors over both rows."""
    settings = replace(SETTINGS, null_draws=100)  # the smallest p it resolves, 1/101, is below alpha / 2
    result = calibration.holds_rates(calibration.NULLS["own effects, equal accuracies"], settings, 40, 0)
    assert min(result.joint_counts) > 2  # not a null that empty joint cells decide alone
    holds = sum(result.rates[name].holds for name in ("W vs X (ref. Y)", "W vs Y (ref. X)"))
    assert calibration.Rate(holds, 80).within_nominal(SETTINGS.alpha / 2)


def test_a_genuinely_complementary_weight_space_family_holds():
    scenario = replace(calibration.POWER, probes=2000)
    label, correct = calibration.synthetic_correctness(scenario, np.random.default_rng(0))
    test = complementarity.reference_test(
        correct[calibration.W], correct[calibration.Y], correct[calibration.X], 500, seed=0
    )
    assert test.statistic > test.null_mean and test.p_more < SETTINGS.alpha / 2


def test_no_sample_in_either_joint_cell_does_not_hold():
    """Shared difficulty alone at the real run's accuracies: no sample is right for every W and
    wrong for every X, nor right for every Y and wrong for every X."""
    label, correct = calibration.synthetic_correctness(calibration.Scenario(), np.random.default_rng(0))
    rows = calibration.claims.complementary_family_rows(
        calibration.simulated_evidence(label, correct), SETTINGS, calibration.W, "image network", calibration.FAMILY
    )
    against = rows[2]  # W against X, Y the reference
    assert against["comparison"] == "every GMN right, every CNN wrong, against every MLP right"
    assert "joint counts: 0 (every GMN right, every CNN wrong) and 0 (every MLP right" in against["reason"]
    assert against["verdict"] != claims_table.HOLDS


def test_the_reference_test_refuses_matrices_over_different_samples():
    with pytest.raises(ValueError, match="same samples"):
        complementarity.reference_test(np.ones((2, 5), bool), np.ones((2, 5), bool), np.ones((2, 4), bool), 10, 0)
