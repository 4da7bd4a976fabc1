"""C3's statistics: whether the models of two architectures are right and wrong on different probe
samples more often than chance, judged per sample from each model's correctness (right or wrong).

(1) The count of samples every GMN gets right and every image network wrong, against class-stratified
independence: within each class c the GMN outcomes are exchangeable across its samples, so the count
is a sum over classes of independent Hypergeometric(N_c, sum_c a, sum_c b), whose distribution (their
convolution) is exact. Holding the class margins fixed keeps label difficulty (a class every model
gets wrong) from reading as "the families fail together". A difficulty shared by every model within
a class pushes the count down, so this test errs towards "not more than chance".

(2) Against a reference: is weight-space architecture W more complementary to image architecture X
than the other image architecture Y is? Per sample, A_W = every W model right, A_Y = every Y model
right, B = every X model wrong; the statistic is T = #(A_W & B) - #(A_Y & B). Samples differ in
difficulty for every model alike, and models in accuracy, and both move these counts without any
complementarity: a less accurate W has fewer all-right samples, harder samples are where X fails.
The null is the Rasch model of correctness: model m is right on sample i with probability
sigmoid(a_m + d_i), an ability per model and a difficulty per sample shared by every model, and
nothing else. Its sufficient statistics are the correctness matrix's margins (models x samples of
W, Y and X stacked: each model's number of right samples, each sample's number of right models), so
that conditionally on them every binary matrix with these margins is equally likely, whatever the
abilities and difficulties. T's null distribution is drawn from that uniform distribution with the
curveball algorithm (Strona et al. 2014): two models' rows trade their samples where they differ,
at random, each keeping its count, which keeps every margin (a "global" sweep trades every model
once, in random pairs; Carstens et al. 2018). A sweep's transition probabilities are symmetric, so
the chain is reversible with respect to the uniform distribution, and Besag and Clifford's (1989)
serial method makes the test exact with no burn-in: the observed matrix is placed at a uniformly
random position of a chain of draws run from it in both directions, after which the observed and
the drawn matrices are exchangeable under the null, and P(T >= observed) counts the observed among
them. The sweeps between two draws (THINNING_SWEEPS) only affect power; `lag_autocorrelation` is the
mixing diagnostic that chose them. When every sample's difficulty is the same for all models, the
joint counts are what the margins imply, whichever models are less accurate: empty joint cells,
e.g. no sample that every W model gets right and every X model wrong, give a null distribution
near 0 and no verdict, where an odds ratio with 0.5 added to each cell read the margins as a large
ratio.

The Rasch null is narrower than the claim's: an architecture that finds its own samples hard (a
per-sample effect shared by its models and by no other architecture) breaks it without being
complementary to anyone, and then T's spread across samples is wider than the margins allow (with
two such architectures of equal accuracy, the exact test alone said `holds` in a quarter of the
simulated runs). And the claim is about architectures, not about these seeds: which 5 seeds of W
and of Y were trained moves T too (two draws of 5 MLPs of one architecture differ). So T's excess
over the draws' mean (its expectation given the margins) is also judged over the probe samples and
over the models, the units the claim generalises over, with a variance of two parts: n times the
variance across samples of each sample's term minus its mean over the draws (samples independent),
floored at T's variance under the Rasch null (so that samples with no joint event, whose terms barely
vary, do not read as a precise excess); plus, per architecture, the delete-one jackknife variance of
the excess with each of its models left out (as C1's and C2's intervals, gmnrep.paper.statistics:
the same chain draws give each left-out statistic's null mean). A normal p of the excess over the
square root of that variance. Each side's p is the larger of the exact and this one: `holds` needs T
beyond the margins' randomness and beyond the samples' and seeds' variation. Without the seed term
the rate on real networks (two draws of 5 MLPs, 5 CNNs) was 5.7% (17 of 300 runs), with it 1.0%
(gmnrep.paper.complementarity_calibration measures every scenario, and (1)).
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom, norm

from gmnrep.paper.statistics import jackknife_variance

# Sweeps of the curveball chain between two retained draws. One sweep pairs every model's row with
# another's. T's lag-one autocorrelation between retained draws, on simulated correctness of 5 (3)
# models per architecture on 500 samples with architecture-specific effects: 0.13-0.14 (0.29) at one
# sweep, 0.01-0.11 (0.11) at two; tests/test_complementarity.py pins it below 0.2.
THINNING_SWEEPS = 2


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


def curveball_sweep(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One global curveball sweep of a boolean matrix: its rows in random disjoint pairs (one left
    alone when their number is odd), each pair's two rows redistributing, uniformly at random, the
    columns where they differ, each row keeping its number of True. Every row and column sum is
    kept. Returns a new matrix."""
    rows, columns = matrix.shape
    order = rng.permutation(rows)
    first, second = order[0 : rows - 1 : 2], order[1:rows:2]
    a, b = matrix[first], matrix[second]
    differ = a != b
    # the differing columns first, in random order: the first row takes the first `ones` of them
    keys = np.where(differ, 0.0, 1.0) + rng.random(differ.shape)
    ranked = np.argsort(keys, axis=1)
    ones = (a & differ).sum(axis=1, keepdims=True)
    differ_count = differ.sum(axis=1, keepdims=True)
    position = np.arange(columns)
    pair = np.arange(len(first))[:, None]
    takes = a[pair, ranked]  # the columns where both agree keep their value
    takes = np.where(position < differ_count, position < ones, takes)
    new_a = np.empty_like(a)
    new_a[pair, ranked] = takes
    result = matrix.copy()
    result[first] = new_a
    result[second] = np.where(differ, ~new_a, b)
    return result


@dataclass(frozen=True)
class ReferenceComparison:
    """`candidate` (W), `reference` (Y) and `other` (X): their rows in a stacked correctness matrix."""

    candidate: slice
    reference: slice
    other: slice

    def joint_cells(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per sample: (every candidate right & every other wrong, every reference right & every other wrong)."""
        wrong = ~matrix[self.other].any(axis=0)
        return matrix[self.candidate].all(axis=0) & wrong, matrix[self.reference].all(axis=0) & wrong

    def joint_counts(self, matrix: np.ndarray) -> tuple[int, int]:
        candidate, reference = self.joint_cells(matrix)
        return int(candidate.sum()), int(reference.sum())

    def per_sample(self, matrix: np.ndarray) -> np.ndarray:
        """Each sample's term of T: 1 in the candidate's joint cell only, -1 in the reference's only."""
        candidate, reference = self.joint_cells(matrix)
        return candidate.astype(np.int8) - reference.astype(np.int8)

    def per_sample_and_without_each_model(self, matrix: np.ndarray) -> np.ndarray:
        """(1 + models, samples): T's terms, then T's terms with each model (row) left out of its
        part (each part a slice of consecutive rows). Each cell comes from its part's count of right
        models per sample: "every model right" is that count at the part's size, "every model
        wrong" at zero, and without a row the count less the row's value at the size less one, or
        at zero."""
        counts = [matrix[part].sum(axis=0, dtype=np.int32) for part in self.parts]
        wanted = [len(matrix[self.candidate]), len(matrix[self.reference]), 0]
        cells = [np.repeat((count == want)[None], len(matrix) + 1, axis=0) for count, want in zip(counts, wanted)]
        for part, part_cells, count, want in zip(self.parts, cells, counts, wanted):
            rows = range(len(matrix))[part]
            part_cells[1 + rows.start : 1 + rows.stop] = count - matrix[part] == max(want - 1, 0)
        candidate, reference, wrong = cells
        return (candidate & wrong).astype(np.int8) - (reference & wrong).astype(np.int8)

    @property
    def parts(self) -> tuple[slice, slice, slice]:
        return self.candidate, self.reference, self.other


def rasch_chain(matrix: np.ndarray, per_sample, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Besag and Clifford's serial method on the curveball chain: `draws` + 1 values of `per_sample`
    (a function of a matrix, one value per sample), exchangeable under the Rasch null, in the
    chain's order, the observed matrix's at a uniformly random position (returned with them).
    THINNING_SWEEPS sweeps between two."""
    position = int(rng.integers(draws + 1))
    observed = per_sample(matrix)
    values = np.empty((draws + 1, *observed.shape), dtype=observed.dtype)
    values[position] = observed
    # the chain is reversible: the draws before the observed one run from it as the draws after it do
    for direction in (range(position - 1, -1, -1), range(position + 1, draws + 1)):
        current = matrix
        for index in direction:
            for _ in range(THINNING_SWEEPS):
                current = curveball_sweep(current, rng)
            values[index] = per_sample(current)
    return values, position


@dataclass(frozen=True)
class ReferenceTest:
    candidate_count: int  # every W right and every X wrong
    reference_count: int  # every Y right and every X wrong
    statistic: int  # their difference, T
    null_mean: float  # T's mean over the exchangeable draws (the observed one included)
    p_more: float  # P(T >= observed): the larger of the exact p and the p over samples and models
    p_less: float  # P(T <= observed), the same
    draws: int


def reference_test(
    candidate: np.ndarray, reference: np.ndarray, other: np.ndarray, draws: int, seed: int
) -> ReferenceTest:
    """Is `candidate` (models x samples, right or wrong) more complementary to `other` than
    `reference` is, beyond each model's accuracy and each sample's difficulty shared by every model?
    T = #(every candidate right & every other wrong) - #(every reference right & every other wrong),
    judged twice (module docstring): exactly under the Rasch null, from `draws` curveball draws
    seeded with `seed`, and by T's excess over the draws' mean against that excess's variance across
    samples and across each part's models (a jackknife: at least 2 models each); each side's p is the
    larger of the two."""
    blocks = [np.asarray(m, dtype=bool) for m in (candidate, reference, other)]
    if any(m.ndim != 2 for m in blocks) or len({m.shape[1] for m in blocks}) > 1:
        raise ValueError(
            f"needs three (models x samples) matrices over the same samples, not {[m.shape for m in blocks]}"
        )
    if min(len(m) for m in blocks) < 2:
        raise ValueError(f"a jackknife over models needs 2 models of each part, not {[len(m) for m in blocks]}")
    if draws < 1:
        raise ValueError(f"needs at least one null draw, not {draws}")
    ends = np.cumsum([len(m) for m in blocks])
    comparison = ReferenceComparison(slice(0, ends[0]), slice(ends[0], ends[1]), slice(ends[1], ends[2]))
    matrix = np.concatenate(blocks)
    chain = comparison.per_sample_and_without_each_model
    values, position = rasch_chain(matrix, chain, draws, np.random.default_rng(seed))
    totals = values.sum(axis=2, dtype=np.int64)  # (draws + 1, 1 + models): T, then T without each model
    excess = totals[position] - totals.mean(axis=0)  # the observed T's excess over its null expectation
    observed, null_mean = int(totals[position, 0]), float(totals[:, 0].mean())
    residuals = values[position, 0] - values[:, 0].mean(axis=0)  # each sample's share of the excess
    variance = max(len(residuals) * float(residuals.var(ddof=1)), float(totals[:, 0].var()))
    for start, stop in zip([0, *ends[:-1]], ends):
        variance += jackknife_variance(excess[1 + start : 1 + stop])
    z = excess[0] / np.sqrt(variance) if variance > 0 else 0.0
    candidate_count, reference_count = comparison.joint_counts(matrix)
    return ReferenceTest(
        candidate_count=candidate_count,
        reference_count=reference_count,
        statistic=observed,
        null_mean=null_mean,
        p_more=max(float(np.mean(totals[:, 0] >= observed)), float(norm.sf(z))),
        p_less=max(float(np.mean(totals[:, 0] <= observed)), float(norm.cdf(z))),
        draws=draws,
    )


def lag_autocorrelation(values: np.ndarray, lag: int = 1) -> float:
    """The autocorrelation of a chain's successive values at `lag` (0 when they do not vary): the
    mixing diagnostic of the curveball chain."""
    values = np.asarray(values, dtype=float) - np.mean(values)
    denominator = float(values @ values)
    return float(values[:-lag] @ values[lag:] / denominator) if denominator > 0 else 0.0
