"""How often the claims' interval for C1 and C2 is wrong on each side: simulations of the seed counts
people run, on synthetic models and on real trained networks (bench/claims_calibration.py prints
the table; a test pins the synthetic rows).

Each replicate draws a fresh set of N probe samples and k models per architecture, computes their
linear CKA with the pipeline's own functions (`gmnrep.representations.cka`: every pair, and every
pair with each of B probe blocks left out), and applies `statistics.mean_difference`. The true
difference is the mean of the difference over the replicates (each pairing's expected CKA at this N),
so that a scenario need not have equal means to test the interval: it errs on the `holds` side when
its lower end lies above the truth, as it would say `holds` of a claim that is false by exactly
nothing, and on the `does not hold` side when its upper end lies below it. The claims' target for
each side is alpha / 2 (2.5%). A t interval at level c errs (1 - c) / 2 per side when the statistic
is symmetric; with heterogeneous seeds it is skewed, and on real networks one side erred more than
twice its share at 95% and 1.6 times at 97.5%, which is why the claims' interval is at 99%
(config.yaml, docs/science.md).

Synthetic models (`Scenario`). A model's layer is

    X_m = Z A_m + s_m E_m      (N x width)

with Z (N x latent) the probe samples' shared content, rows scaled by exp(probe_spread * g_i) so that
some samples weigh more than others (probe-sample noise: a new Z every replicate), A_m (latent x
width) the model's own readout of it (pair noise: two models share Z but not A), E_m the model's own
noise and s_m = noise * exp(model_effect * u_m) a per-model effect (a model noisier than its
siblings lowers every pair it is in). Heterogeneous seeds: each model of `odd_arch` is, with
probability `odd_fraction`, an odd seed whose noise is `odd_noise` times its siblings'. Clustered
seeds: each model joins, with probability `cluster_fraction`, a cluster of its architecture whose
members share one readout (closer to each other than to the rest).

Real networks (`PoolScenario`): the models are drawn without replacement from groups of a pool of
trained networks (bench/real_network_pool.py: MLPs and CNNs on Fashion-MNIST: a homogeneous group, a
cluster sharing one initialisation, a group whose learning rate and epochs vary with the seed), each
architecture of the comparison from the group the scenario names; the N probe samples are a fresh
draw from the pool's held-out samples every replicate. The alternative adds noise to the GMNs'
representations (`lower_noise`), which lowers every pairing they are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.paper.claims import ClaimSettings, interval_verdict
from gmnrep.paper.claims_table import DOES_NOT_HOLD, HOLDS
from gmnrep.paper.statistics import Difference, PairingMatrix, fewest_models, mean_difference
from gmnrep.representations import cka

# Simulated architectures: LOWER stands for the weight-space network (the GMN), whose pairings are
# claimed lower; C1 compares GMN-GMN with MLP-MLP, C2 GMN-MLP with MLP-CNN: (higher pairing, lower pairing).
LOWER, IMAGE, OTHER_IMAGE = "weight-space", "image", "other image"
COMPARISONS = {"C1": ((IMAGE, IMAGE), (LOWER, LOWER)), "C2": ((IMAGE, OTHER_IMAGE), (LOWER, IMAGE))}


@dataclass(frozen=True)
class Scenario:
    seeds: int  # models per architecture (k)
    comparison: str = "C1"  # a key of COMPARISONS
    probes: int = 200  # N
    probe_blocks: int = 20  # B
    latent: int = 4
    width: int = 16
    noise: float = 1.0
    model_effect: float = 0.0  # sd of log s_m across models
    probe_spread: float = 0.5  # sd of the log row scale of Z
    # 1: every architecture reads every latent direction alike; below 1, each reads mostly its own
    # share of them (weight `focus` on the others), so that which probe samples were drawn moves
    # one architecture's CKA and not another's: probe-sample noise that does not cancel
    focus: float = 1.0
    lower_noise_factor: float = 1.0  # > 1: the alternative (the GMN's noise scaled up)
    odd_fraction: float = 0.0  # probability that a model of `odd_arch` is an odd seed
    odd_noise: float = 3.0  # an odd seed's noise, in multiples of its siblings'
    odd_arch: str = LOWER
    cluster_fraction: float = 0.0  # probability that a model joins its architecture's cluster


@dataclass(frozen=True)
class PoolScenario:
    seeds: int  # models per architecture (k)
    comparison: str  # a key of COMPARISONS
    groups: dict[str, str] = field(hash=False)  # architecture -> the pool group its models are drawn from
    layer: int = 3
    probes: int = 500  # N, drawn afresh from the pool's held-out samples every replicate
    probe_blocks: int = 20  # B
    # > 0: the alternative, the GMNs' representations plus Gaussian noise of this many times their
    # features' standard deviation (real networks made less alike by a known amount)
    lower_noise: float = 0.0


@dataclass
class NetworkPool:
    """Trained networks' representations and correctness on the same held-out samples
    (bench/real_network_pool.py writes it)."""

    group: np.ndarray  # per network
    layers: dict[int, list[np.ndarray]]  # layer -> per network (samples x width)
    correct: np.ndarray  # networks x samples
    label: np.ndarray  # per sample

    @classmethod
    def read(cls, path: Path) -> NetworkPool:
        if not path.exists():
            raise DataError(f"{path}: no network pool; build it with bench/real_network_pool.py")
        with np.load(path) as arrays:
            layers: dict[int, list[np.ndarray]] = {}
            for name in sorted(arrays.files):
                if name.startswith("layer"):
                    layer, index = name.removeprefix("layer").split("_")
                    layers.setdefault(int(layer), []).append((int(index), arrays[name]))
            return cls(
                group=arrays["group"],
                layers={
                    layer: [a for _, a in sorted(items, key=lambda item: item[0])] for layer, items in layers.items()
                },
                correct=arrays["correct"],
                label=arrays["label"],
            )

    def members(self, groups: str) -> np.ndarray:
        """The networks of `groups`: one group's name, or several joined by "+"."""
        names, known = groups.split("+"), sorted({str(group) for group in self.group})
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise DataError(f"the network pool has no group {unknown}; it has {known}")
        return np.flatnonzero(np.isin(self.group, names))


def _layer(
    z: np.ndarray, noise: float, readout: np.ndarray, scenario: Scenario, rng: np.random.Generator
) -> np.ndarray:
    scale = noise * np.exp(scenario.model_effect * rng.standard_normal())
    return z @ readout + scale * rng.standard_normal((len(z), scenario.width))


def _synthetic_models(scenario: Scenario, archs: list[str], rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    z = rng.standard_normal((scenario.probes, scenario.latent))
    z *= np.exp(scenario.probe_spread * rng.standard_normal((scenario.probes, 1)))
    models = {}
    for index, arch in enumerate(archs):
        share = np.arange(scenario.latent) % len(archs) == index
        weights = np.where(share, 1.0, scenario.focus)[:, None] / np.sqrt(scenario.latent)
        cluster_readout = weights * rng.standard_normal((scenario.latent, scenario.width))
        noise = scenario.noise * (scenario.lower_noise_factor if arch == LOWER else 1.0)
        models[arch] = []
        for _ in range(scenario.seeds):
            in_cluster = rng.random() < scenario.cluster_fraction
            readout = cluster_readout if in_cluster else weights * rng.standard_normal(cluster_readout.shape)
            odd = arch == scenario.odd_arch and rng.random() < scenario.odd_fraction
            models[arch].append(_layer(z, noise * (scenario.odd_noise if odd else 1.0), readout, scenario, rng))
    return models


def _pool_models(
    scenario: PoolScenario, pool: NetworkPool, archs: list[str], rng: np.random.Generator
) -> dict[str, list[np.ndarray]]:
    rows = np.sort(rng.choice(len(pool.label), scenario.probes, replace=False))
    taken: set[int] = set()
    models = {}
    for arch in archs:
        free = np.array([n for n in pool.members(scenario.groups[arch]) if n not in taken])
        if len(free) < scenario.seeds:
            raise DataError(
                f"pool group {scenario.groups[arch]!r} has too few networks left for {scenario.seeds} {arch}"
            )
        drawn = rng.choice(free, scenario.seeds, replace=False)
        taken.update(int(n) for n in drawn)
        models[arch] = [pool.layers[scenario.layer][n][rows].astype(np.float64) for n in drawn]
        if arch == LOWER and scenario.lower_noise > 0:
            models[arch] = [x + scenario.lower_noise * x.std() * rng.standard_normal(x.shape) for x in models[arch]]
    return models


def _pairing(operands: dict, archs: tuple[str, str], blocks: np.ndarray, count: int) -> PairingMatrix:
    first, second = operands[archs[0]], operands[archs[1]]
    within = archs[0] == archs[1]
    models = first if within else [*first, *second]
    offset = 0 if within else len(first)
    pairs = [(i, offset + j) for i in range(len(first)) for j in range(len(second)) if not within or i < j]
    left_out = cka.cka_without_blocks_of_pairs(models, pairs, blocks)
    values = np.full((len(first), len(second)), np.nan)
    without = np.full((count, len(first), len(second)), np.nan)
    for (i, paired), column in zip(pairs, left_out.T):
        j = paired - offset
        values[i, j], without[:, i, j] = cka.cka(models[i], models[paired]), column
        if within:
            values[j, i], without[:, j, i] = values[i, j], without[:, i, j]
    return PairingMatrix(archs, values, without)


def replicate_pairings(
    scenario: Scenario | PoolScenario, rng: np.random.Generator, pool: NetworkPool | None = None
) -> tuple[PairingMatrix, PairingMatrix]:
    """One simulated run's two pairings of the comparison: (the one claimed higher, the one claimed lower)."""
    higher, lower = COMPARISONS[scenario.comparison]
    archs = list(dict.fromkeys((*higher, *lower)))
    if isinstance(scenario, Scenario):
        models = _synthetic_models(scenario, archs, rng)
    else:
        models = _pool_models(scenario, pool, archs, rng)
    operands = {arch: [cka.prepare(x) for x in layers] for arch, layers in models.items()}
    blocks = cka.probe_blocks(scenario.probes, scenario.probe_blocks, int(rng.integers(2**32)))
    return tuple(_pairing(operands, archs, blocks, scenario.probe_blocks) for archs in (higher, lower))


@dataclass(frozen=True)
class Rate:
    holds: int
    replicates: int

    @property
    def value(self) -> float:
        return self.holds / self.replicates

    @property
    def monte_carlo_error(self) -> float:
        """One standard error of the rate (binomial), at least that of one replicate in the count."""
        p = max(self.value, 1 / self.replicates)
        return float(np.sqrt(p * (1 - p) / self.replicates))

    def within_nominal(self, nominal: float) -> bool:
        """At most `nominal` plus two Monte Carlo errors of a rate at exactly `nominal`."""
        return self.value <= nominal + 2 * np.sqrt(nominal * (1 - nominal) / self.replicates)


@dataclass(frozen=True)
class Calibration:
    truth: float  # the true difference: the mean of the replicates' differences
    spread: float  # the differences' standard deviation across replicates
    false_holds: Rate  # the interval above the truth
    false_does_not_hold: Rate  # the interval below it
    holds: Rate  # the interval above 0: the `holds` verdicts themselves (power where the truth is > 0)


def _shifted(difference: Difference, by: float) -> Difference:
    if difference.interval is None:
        return difference
    low, high = difference.interval
    return replace(difference, value=difference.value - by, interval=(low - by, high - by))


def simulate(
    scenario: Scenario | PoolScenario, replicates: int, seed: int, pool: NetworkPool | None = None
) -> list[tuple[PairingMatrix, PairingMatrix]]:
    """`replicates` simulated runs' pairings (seeded): the costly part, which `judge` can read under
    several interval rules."""
    rng = np.random.default_rng(seed)
    return [replicate_pairings(scenario, rng, pool) for _ in range(replicates)]


def judge(
    runs: list[tuple[PairingMatrix, PairingMatrix]], settings: ClaimSettings, degrees_of_freedom=fewest_models
) -> Calibration:
    """The interval's errors on each side over simulated runs, with the claims' degrees of freedom or
    another rule of statistics.mean_difference's (for comparison)."""
    differences = [mean_difference(*run, settings.min_seeds, settings.confidence, degrees_of_freedom) for run in runs]
    truth = float(np.mean([d.value for d in differences]))
    shifted = [interval_verdict(_shifted(d, truth)) for d in differences]
    return Calibration(
        truth=truth,
        spread=float(np.std([d.value for d in differences], ddof=1)),
        false_holds=Rate(shifted.count(HOLDS), len(runs)),
        false_does_not_hold=Rate(shifted.count(DOES_NOT_HOLD), len(runs)),
        holds=Rate(sum(interval_verdict(d) == HOLDS for d in differences), len(runs)),
    )


def calibrate(
    scenario: Scenario | PoolScenario,
    settings: ClaimSettings,
    replicates: int,
    seed: int,
    pool: NetworkPool | None = None,
    degrees_of_freedom=fewest_models,
) -> Calibration:
    """The interval's errors on each side over `replicates` simulated runs (seeded)."""
    return judge(simulate(scenario, replicates, seed, pool), settings, degrees_of_freedom)
