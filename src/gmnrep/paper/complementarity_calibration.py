"""How often C3's tests say `holds` when the claim is false: simulations of the nulls the tests must
withstand, on synthetic correctness and on real trained networks, run through the claims' own rows
(gmnrep.paper.claims.complementary_family_rows); and their power under an alternative where it is true.
bench/claims_calibration.py prints the table (`print_table`); a test pins the synthetic null's rate.

Three architectures play C3's parts: W, the weight-space architecture (claims.py's GMN), and the
image architectures X and Y (the CNN and the MLP). Each replicate draws a fresh correctness matrix
of `models` models per architecture on `probes` probe samples and reads three verdicts: the
stratified count (every W right, every X and Y wrong, against class-stratified independence) and
the two reference rows: W against X with Y as the reference, and W against Y with X as the reference.

Synthetic correctness (`Scenario`): model m of architecture r is right on sample i with probability

    sigmoid(a_r + s u_m + d_i + e_ri - c_r e_Xi)

with d_i = difficulty * g_i + class_effect * h_class(i) a difficulty shared by every model (g, h
standard normal; 10 classes), u_m a model's own ability (s = ability_spread), e_ri an effect of
sample i on architecture r alone (sd own_effect: what one architecture finds hard and another does
not), and c_r the complementarity of r to X: its logit falls where X's rises. a_r is set so that the
architecture's mean accuracy is `accuracy[r]`. With own_effect = 0 and every c_r = 0 this is the
Rasch null of the reference test; own_effect > 0 keeps the claim false (nothing ties W's effects to
X's) but leaves the Rasch model. c_W > 0 = c_Y is the alternative: W is more complementary to X
than Y is, and the row "W against X" should hold.

Real networks (`PoolScenario`): W and Y are two disjoint draws of `models` networks from one group of
the pool (bench/real_network_pool.py: MLPs trained on Fashion-MNIST with their own seeds), X
`models` CNNs, on a fresh draw of `probes` of the pool's held-out samples: W and Y are exchangeable,
so neither reference row's claim is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import norm

from gmnrep.models import registry
from gmnrep.paper import claims
from gmnrep.paper.calibration import NetworkPool, Rate
from gmnrep.paper.claims_table import HOLDS
from gmnrep.paper.complementarity import ReferenceComparison
from gmnrep.paper.predictions import ProbePredictions

# The parts of C3, as the claims' rows name them: W the weight-space architecture (the first
# registered, the GMN), Y and X the image ones (MLP and CNN).
W, (Y, X) = registry.weight_space_archs()[0], registry.image_archs()
FAMILY = (Y, X)
CLASSES = 10
# What each replicate's rows are read as: the stratified count, then the reference rows as
# complementary_family_rows returns them (against each image architecture of FAMILY in turn).
VERDICTS = ("count", "W vs Y (ref. X)", "W vs X (ref. Y)")
QUADRATURE = norm.ppf((np.arange(2000) + 0.5) / 2000)  # standard normal quantiles: a_r's mean accuracy


@dataclass(frozen=True)
class Scenario:
    models: int = 5  # per architecture
    probes: int = 500
    accuracy: dict[str, float] = field(default_factory=lambda: {W: 0.48, Y: 0.79, X: 0.82}, hash=False)
    difficulty: float = 2.0  # sd of the shared per-sample difficulty (logit)
    class_effect: float = 0.0  # sd of a shared per-class difficulty (logit)
    ability_spread: float = 0.2  # sd of a model's ability around its architecture's
    own_effect: float = 0.0  # sd of each architecture's own per-sample effect
    complementarity: dict[str, float] = field(default_factory=dict, hash=False)  # r -> c_r (W, Y)


# The nulls (every `holds` an error) at the real run's accuracies unless named otherwise, and the
# alternative (W complementary to X: only the row "W vs X" is true).
NULLS = {
    "shared difficulty": Scenario(),
    "shared + class difficulty": Scenario(class_effect=1.0),
    "equal accuracies (80%)": Scenario(accuracy={W: 0.8, Y: 0.8, X: 0.8}),
    "sparse joint cells (W 30%)": Scenario(accuracy={W: 0.3, Y: 0.79, X: 0.82}),
    "3 models": Scenario(models=3),
    "10 models": Scenario(models=10),
    "own effects": Scenario(difficulty=1.0, own_effect=1.5),
    "own effects, equal accuracies": Scenario(difficulty=1.0, own_effect=1.5, accuracy={W: 0.8, Y: 0.8, X: 0.8}),
    "own effects, 3 models": Scenario(models=3, difficulty=1.0, own_effect=1.5),
    "W and Y equally complementary": Scenario(difficulty=1.0, own_effect=1.5, complementarity={W: 1.0, Y: 1.0}),
}
POWER = Scenario(difficulty=1.0, own_effect=1.5, complementarity={W: 1.5})


@dataclass(frozen=True)
class PoolScenario:
    group: str = Y  # the pool group W and Y are drawn from (the pool names its groups after the architectures)
    other_group: str = X  # X's
    models: int = 5
    probes: int = 500


def _offset(scenario: Scenario, arch: str, spread: float) -> float:
    """a_r such that the mean of sigmoid(a_r + N(0, spread^2)) is the architecture's accuracy."""
    target = scenario.accuracy[arch]
    return brentq(lambda a: expit(a + spread * QUADRATURE).mean() - target, -30, 30)


def synthetic_correctness(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One replicate: the samples' classes and, per architecture, its models' correctness (models x samples)."""
    n = scenario.probes
    label = rng.integers(CLASSES, size=n)
    shared = scenario.difficulty * rng.standard_normal(n) + scenario.class_effect * rng.standard_normal(CLASSES)[label]
    own = {arch: scenario.own_effect * rng.standard_normal(n) for arch in (W, Y, X)}
    correct = {}
    for arch in (W, Y, X):
        c = scenario.complementarity.get(arch, 0.0)
        effect = own[arch] - c * own[X] * (arch != X)
        spread = np.sqrt(
            scenario.difficulty**2
            + scenario.class_effect**2
            + scenario.ability_spread**2
            + scenario.own_effect**2 * (1 + c**2)
        )
        logits = _offset(scenario, arch, spread) + shared + effect
        logits = logits + scenario.ability_spread * rng.standard_normal((scenario.models, 1))
        correct[arch] = rng.random((scenario.models, n)) < expit(logits)
    return label, correct


def pool_correctness(
    scenario: PoolScenario, pool: NetworkPool, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One replicate from the pool: W and Y disjoint draws from one group, X from another, on a fresh
    draw of the held-out samples."""
    samples = np.sort(rng.choice(len(pool.label), scenario.probes, replace=False))
    twins = rng.choice(pool.members(scenario.group), 2 * scenario.models, replace=False)
    others = rng.choice(pool.members(scenario.other_group), scenario.models, replace=False)
    drawn = {W: twins[: scenario.models], Y: twins[scenario.models :], X: others}
    return pool.label[samples], {arch: pool.correct[np.ix_(rows, samples)] for arch, rows in drawn.items()}


def simulated_evidence(label: np.ndarray, correct: dict[str, np.ndarray]) -> claims.DatasetEvidence:
    """Claims evidence whose models' predictions are right exactly where `correct` says."""
    wrong_class = (label + 1) % CLASSES
    by_model = {
        (arch, seed): np.where(right, label, wrong_class)
        for arch, rows in correct.items()
        for seed, right in enumerate(rows)
    }
    return claims.DatasetEvidence("simulated", [], {}, {}, {}, ProbePredictions(np.arange(len(label)), label, by_model))


@dataclass(frozen=True)
class ComplementarityCalibration:
    rates: dict[str, Rate]  # VERDICTS -> how often it said `holds`
    joint_counts: tuple[float, float]  # mean #(every W right, every X wrong) and #(every Y right, every X wrong)


def holds_rates(
    scenario: Scenario | PoolScenario,
    settings: claims.ClaimSettings,
    replicates: int,
    seed: int,
    pool: NetworkPool | None = None,
) -> ComplementarityCalibration:
    """How often each of C3's rows says `holds` over `replicates` simulated runs (seeded)."""
    rng = np.random.default_rng(seed)
    holds = dict.fromkeys(VERDICTS, 0)
    counts = []
    for _ in range(replicates):
        if isinstance(scenario, Scenario):
            label, correct = synthetic_correctness(scenario, rng)
        else:
            label, correct = pool_correctness(scenario, pool, rng)
        replicate = replace(settings, seed=int(rng.integers(2**32)))
        rows = claims.complementary_family_rows(
            simulated_evidence(label, correct), replicate, W, "image network", FAMILY
        )
        for name, row in zip(VERDICTS, rows):
            holds[name] += row["verdict"] == HOLDS
        ends = np.cumsum([len(correct[arch]) for arch in (W, Y, X)])
        comparison = ReferenceComparison(slice(0, ends[0]), slice(ends[0], ends[1]), slice(ends[1], ends[2]))
        counts.append(comparison.joint_counts(np.concatenate([correct[arch] for arch in (W, Y, X)])))
    return ComplementarityCalibration(
        {name: Rate(count, replicates) for name, count in holds.items()}, tuple(np.mean(counts, axis=0))
    )


def print_table(settings: claims.ClaimSettings, replicates: int, seed: int, pool_path: Path | None = None) -> None:
    """C3's calibration table: per scenario, each row's `holds` rate ± its Monte Carlo error and
    the mean joint counts; the nulls, the real-network null when `pool_path` is given, then the power."""
    nominal = settings.alpha / 2
    print(
        f"C3: `holds` rate over {replicates} replicates per scenario ({settings.null_draws} null draws each); "
        f"nominal {nominal:.1%} for a null's reference rows"
    )
    print(f"{'scenario':<34}" + "".join(f"{name:>18}" for name in VERDICTS) + f"{'joint W-X, Y-X':>18}")
    scenarios: dict = {f"null: {name}": scenario for name, scenario in NULLS.items()}
    pool = None
    if pool_path is not None:
        pool = NetworkPool.read(pool_path)
        scenarios["null: real MLPs (W, Y) and CNNs (X)"] = PoolScenario()
    scenarios["power: W complementary to X"] = POWER
    for name, scenario in scenarios.items():
        result = holds_rates(scenario, settings, replicates, seed, pool)
        cells = "".join(f"{f'{r.value:.1%} ± {r.monte_carlo_error:.1%}':>18}" for r in result.rates.values())
        counts = f"{result.joint_counts[0]:.2f}, {result.joint_counts[1]:.2f}"
        print(f"{name:<34}{cells}{counts:>18}", flush=True)
