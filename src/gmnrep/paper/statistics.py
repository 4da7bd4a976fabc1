"""The statistics the claims are judged by (gmnrep.paper.claims), and the mean ± std of the tables.

C1 and C2: a difference of mean CKA(l, l) between two pairings of architectures (e.g. MLP-MLP minus
GMN-GMN), over the compared pairs. The pairs of a pairing share models (with 5 seeds, each model is
in 4 of the 10 GMN-GMN pairs), so the pairs are not independent samples and a test over pairs would
overstate the evidence. The unit of replication is the trained model. The interval is value
+- t * sqrt(V), with V a sum of delete-one jackknife variances, one per independent source of
variation:
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

C3: per probe sample, a = every GMN right, b = every image network wrong.
(1) The count of a & b against class-stratified independence: within each class c the GMN outcomes
are exchangeable across its samples, so the count is a sum over classes of independent
Hypergeometric(N_c, sum_c a, sum_c b), whose distribution (their convolution) is exact. Holding
the class margins fixed keeps label difficulty (a class every model gets wrong) from reading as
"the families fail together".
(2) Against a reference: the odds ratio of (every GMN right, every X wrong) over the samples,
divided by the same odds ratio of (every Y right, every X wrong), with a percentile interval over
paired bootstrap resamples of the probe samples. 0.5 is added to each cell of each 2x2 table
(Haldane-Anscombe).
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom
from scipy.stats import t as student_t

BOOTSTRAP_CHUNK = 500  # resamples drawn at once: bounds the weights' memory (chunk x probe samples)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


# --- C1 and C2: differences of mean CKA, with a jackknife over models and probe blocks ----------


@dataclass
class PairingMatrix:
    """A pairing's CKA(l, l) by model: values[i, j] compares the first architecture's i-th model with
    the second's j-th (NaN where not compared; within an architecture square and symmetric, with a
    NaN diagonal), with its two architectures, and the same with each probe block left out (blocks x
    models x models). Each architecture has its own number of models."""

    archs: tuple[str, str]
    values: np.ndarray
    without_blocks: np.ndarray

    def model_counts(self) -> dict[str, int]:
        """arch -> its number of models in this pairing."""
        return {arch: self.values.shape[axis] for axis, arch in enumerate(self.archs)}

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


def models_per_architecture(*pairings: PairingMatrix) -> dict[str, int]:
    """arch -> its number of models, which every pairing it is in must agree on."""
    counts: dict[str, int] = {}
    for pairing in pairings:
        for arch, count in pairing.model_counts().items():
            if counts.setdefault(arch, count) != count:
                raise ValueError(f"{arch} has {counts[arch]} models in one pairing and {count} in another")
    return counts


def mean_difference(higher: PairingMatrix, lower: PairingMatrix, min_seeds: int, confidence: float) -> Difference:
    """mean(higher) - mean(lower) with a `confidence` t interval (none when an architecture has fewer
    than `min_seeds` models) whose variance has one term per source of variation, each a delete-one
    jackknife: every architecture's own models (the trainings, independent across architectures; a
    model left out of every pair it is in, in both pairings) and the probe blocks (shared by every
    model). Degrees of freedom by Welch-Satterthwaite from k_a - 1 for an architecture of k_a models
    and B - 1 for the blocks. Calibrated by simulation (gmnrep.paper.calibration)."""
    value = higher.mean() - lower.mean()
    counts = models_per_architecture(higher, lower)
    if min(counts.values()) < min_seeds:
        return Difference(value, None)
    terms = []  # (variance, degrees of freedom)
    for arch, count in counts.items():
        replicates = np.array([higher.mean((arch, i)) - lower.mean((arch, i)) for i in range(count)], dtype=np.float64)
        if not np.isfinite(replicates).all():
            return Difference(value, None)
        terms.append((jackknife_variance(replicates), count - 1))
    probes = higher.block_means() - lower.block_means()
    probes = probes[np.isfinite(probes)]
    if len(probes) >= 2:
        terms.append((jackknife_variance(probes), len(probes) - 1))
    variance = sum(v for v, _ in terms)
    if variance == 0:  # every replicate equal (e.g. identical models): no variation to allow for
        return Difference(value, (value, value), float("inf"), len(probes))
    degrees = variance**2 / sum(v**2 / d for v, d in terms)
    half_width = float(student_t.ppf(1 - (1 - confidence) / 2, degrees)) * np.sqrt(variance)
    return Difference(value, (value - half_width, value + half_width), degrees, len(probes))


# --- C3: a count against class-stratified independence, and odds ratios against a reference -----


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
    candidate: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    replicates: int,
    confidence: float,
    seed: int,
) -> tuple[float, tuple[float, float]]:
    """OR(candidate) / OR(reference), each an odds ratio of (right, wrong) over the probe samples,
    with its `confidence` percentile interval over `replicates` paired bootstrap resamples of the
    samples (the same resample for both, so that what they share, such as sample difficulty,
    cancels), drawn with `seed`."""
    n = len(candidate[0])
    ratio = float(_odds_ratios(np.ones((1, n)), *candidate)[0] / _odds_ratios(np.ones((1, n)), *reference)[0])
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, replicates, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, replicates - start)
        weights = rng.multinomial(n, np.full(n, 1 / n), size=size).astype(np.float64)
        ratios.append(_odds_ratios(weights, *candidate) / _odds_ratios(weights, *reference))
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(ratios), [tail, 1 - tail])
    return ratio, (float(low), float(high))
