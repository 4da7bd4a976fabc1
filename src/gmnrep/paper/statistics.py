"""The statistics the claims are judged by (gmnrep.paper.claims); the tables' mean ± std: gmnrep.paper.spread.

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
t is Student's with k - 1 degrees of freedom, k the model count of the architecture with the fewest
models: the lower bound of the Welch-Satterthwaite df V^2 / sum V_s^2 / df_s (df_s: k_a - 1 per
architecture, B - 1 for the blocks), which it reaches when one term dominates. The
Welch-Satterthwaite estimate itself is not used: it treats each term as estimated with a
chi-square's precision, while one odd seed makes an architecture's jackknife variance heavy-tailed
and correlated with its mean, and with heterogeneous seeds it errs on both sides well above nominal
at k = 3 (bench/claims_calibration.py --df welch prints the comparison).
A percentile bootstrap over models was tried and replaced: at 3 seeds its interval is a range rule
over four values per pairing, and under the null it said `holds` 6-10% of the time; a bootstrap-t
over models was no better at 5 seeds and degenerate at 3. This interval's errors on both sides, at
3, 5 and 10 seeds, on synthetic models (per-model effects, probe noise that does not cancel,
heterogeneous and clustered seeds) and on real trained networks, are simulated in
gmnrep.paper.calibration (a test pins the synthetic ones; bench/claims_calibration.py prints the
table, docs/science.md holds it). A permutation test over architecture labels is not used:
relabelling a GMN as an MLP turns GMN-GMN pairs into GMN-MLP pairs, whose CKA differs for reasons
other than the claim.

C3's statistics are in gmnrep.paper.complementarity.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

# --- C1 and C2: differences of mean CKA, with a jackknife over models and probe blocks ----------

PROBE_BLOCKS = "probe blocks"  # the variance term of the probe samples (architectures name the others)


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
    degrees_of_freedom: float = 0  # of the interval's t critical value: the fewest models less one
    probe_blocks: int = 0  # probe blocks whose leave-one-out values entered the interval


def models_per_architecture(*pairings: PairingMatrix) -> dict[str, int]:
    """arch -> its number of models, which every pairing it is in must agree on."""
    counts: dict[str, int] = {}
    for pairing in pairings:
        for arch, count in pairing.model_counts().items():
            if counts.setdefault(arch, count) != count:
                raise ValueError(f"{arch} has {counts[arch]} models in one pairing and {count} in another")
    return counts


def variance_terms(higher: PairingMatrix, lower: PairingMatrix) -> dict[str, tuple[float, int]] | None:
    """The interval's variance terms, each with its degrees of freedom: per architecture, the
    delete-one jackknife over its models (k - 1); then, with two or more, over the probe blocks
    (B - 1; key PROBE_BLOCKS). None when a replicate has no pair left to average."""
    terms = {}
    for arch, count in models_per_architecture(higher, lower).items():
        replicates = np.array([higher.mean((arch, i)) - lower.mean((arch, i)) for i in range(count)], dtype=np.float64)
        if not np.isfinite(replicates).all():
            return None
        terms[arch] = (jackknife_variance(replicates), count - 1)
    probes = higher.block_means() - lower.block_means()
    probes = probes[np.isfinite(probes)]
    if len(probes) >= 2:
        terms[PROBE_BLOCKS] = (jackknife_variance(probes), len(probes) - 1)
    return terms


def fewest_models(terms: dict[str, tuple[float, int]]) -> float:
    """The interval's degrees of freedom: k - 1 for the architecture with the fewest models."""
    return min(df for name, (_, df) in terms.items() if name != PROBE_BLOCKS)


def mean_difference(
    higher: PairingMatrix,
    lower: PairingMatrix,
    min_seeds: int,
    confidence: float,
    degrees_of_freedom: Callable[[dict[str, tuple[float, int]]], float] = fewest_models,
) -> Difference:
    """mean(higher) - mean(lower) with a `confidence` t interval (none when an architecture has fewer
    than `min_seeds` models) whose variance has one term per source of variation, each a delete-one
    jackknife (variance_terms): every architecture's own models (the trainings, independent across
    architectures; a model left out of every pair it is in, in both pairings) and the probe blocks
    (shared by every model). Degrees of freedom: k - 1 for the architecture with the fewest models
    (the module docstring says why; `degrees_of_freedom` takes another rule, for the calibration's
    comparisons). Calibrated by simulation (gmnrep.paper.calibration)."""
    value = higher.mean() - lower.mean()
    if min(models_per_architecture(higher, lower).values()) < min_seeds:
        return Difference(value, None)
    terms = variance_terms(higher, lower)
    if terms is None:
        return Difference(value, None)
    variance = sum(v for v, _ in terms.values())
    degrees = degrees_of_freedom(terms)
    blocks = terms[PROBE_BLOCKS][1] + 1 if PROBE_BLOCKS in terms else 0
    if variance == 0:  # every replicate equal (e.g. identical models): no variation to allow for
        return Difference(value, (value, value), degrees, blocks)
    half_width = float(student_t.ppf(1 - (1 - confidence) / 2, degrees)) * np.sqrt(variance)
    return Difference(value, (value - half_width, value + half_width), degrees, blocks)
