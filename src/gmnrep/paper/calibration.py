"""How often the claims' interval for C1 and C2 says `holds` when the claim is false: a simulation
of the null at the seed counts people run (bench/claims_calibration.py prints the table; a test
pins it).

Each replicate draws a fresh set of N probe samples and k models per architecture, computes their
linear CKA with the pipeline's own functions (`gmnrep.representations.cka`: every pair, and every pair
with each of B probe blocks left out), and applies `statistics.mean_difference`. A model's layer is

    X_m = Z A_m + s_m E_m      (N x width)

with Z (N x latent) the probe samples' shared content, rows scaled by exp(probe_spread * g_i) so that
some samples weigh more than others (probe-sample noise: a new Z every replicate), A_m (latent x
width) the model's own readout of it (pair noise: two models share Z but not A), E_m the model's own
noise and s_m = noise * exp(model_effect * u_m) a per-model effect (a model noisier than its
siblings lowers every pair it is in). Under the null every architecture draws its models from the
same distribution, so the claimed ordering is false and every `holds` is an error; an alternative
scales the noise of the architecture claimed lower (the GMN) to show that the interval can hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gmnrep.paper.claims import ClaimSettings, interval_verdict
from gmnrep.paper.claims_table import HOLDS
from gmnrep.paper.statistics import PairingMatrix, mean_difference
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


def _layer(z: np.ndarray, noise: float, share: np.ndarray, scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    weights = np.where(share, 1.0, scenario.focus)[:, None] / np.sqrt(scenario.latent)
    readout = weights * rng.standard_normal((scenario.latent, scenario.width))
    scale = noise * np.exp(scenario.model_effect * rng.standard_normal())
    return z @ readout + scale * rng.standard_normal((len(z), scenario.width))


def _pairing(operands: dict, archs: tuple[str, str], seeds: int, blocks: np.ndarray, count: int) -> PairingMatrix:
    values, without = np.full((seeds, seeds), np.nan), np.full((count, seeds, seeds), np.nan)
    for i in range(seeds):
        for j in range(seeds):
            if archs[0] == archs[1] and j <= i:
                continue
            a, b = operands[archs[0]][i], operands[archs[1]][j]
            values[i, j], without[:, i, j] = cka.cka(a, b), cka.cka_without_blocks(a, b, blocks)
            if archs[0] == archs[1]:
                values[j, i], without[:, j, i] = values[i, j], without[:, i, j]
    return PairingMatrix(archs, values, without)


def replicate_verdicts(scenario: Scenario, settings: ClaimSettings, rng: np.random.Generator) -> dict[str, str]:
    """One simulated run: the verdict of the interval with the probe blocks ("models and probes")
    and without them ("models only")."""
    higher, lower = COMPARISONS[scenario.comparison]
    z = rng.standard_normal((scenario.probes, scenario.latent))
    z *= np.exp(scenario.probe_spread * rng.standard_normal((scenario.probes, 1)))
    operands = {}
    architectures = list(dict.fromkeys((*higher, *lower)))
    for index, arch in enumerate(architectures):
        noise = scenario.noise * (scenario.lower_noise_factor if arch == LOWER else 1.0)
        share = np.arange(scenario.latent) % len(architectures) == index
        operands[arch] = [cka.prepare(_layer(z, noise, share, scenario, rng)) for _ in range(scenario.seeds)]
    blocks = cka.probe_blocks(scenario.probes, scenario.probe_blocks, int(rng.integers(2**32)))
    pairings = [_pairing(operands, archs, scenario.seeds, blocks, scenario.probe_blocks) for archs in (higher, lower)]
    without_probes = [replace(p, without_blocks=p.without_blocks[:0]) for p in pairings]
    return {
        "models and probes": interval_verdict(mean_difference(*pairings, settings.min_seeds, settings.confidence)),
        "models only": interval_verdict(mean_difference(*without_probes, settings.min_seeds, settings.confidence)),
    }


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


def holds_rates(scenario: Scenario, settings: ClaimSettings, replicates: int, seed: int) -> dict[str, Rate]:
    """How often each interval says `holds` over `replicates` simulated runs (seeded)."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for _ in range(replicates):
        for method, verdict in replicate_verdicts(scenario, settings, rng).items():
            counts[method] = counts.get(method, 0) + (verdict == HOLDS)
    return {method: Rate(count, replicates) for method, count in counts.items()}
