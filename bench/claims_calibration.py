"""Calibration of the claims' C1/C2 interval: how often it says `holds` when the claim is false.

A simulation of the null (gmnrep.paper.calibration): each replicate draws fresh probe samples and k
models per architecture, all architectures from one distribution, computes linear CKA with the
pipeline's functions and applies statistics.mean_difference. A `holds` is then an error; its nominal
rate is the one-sided (1 - confidence) / 2 = 2.5%. Printed per seed count k (3, 5, 10) and scenario:

- shared: every architecture reads the probe samples' content alike;
- shared + model effects: each model's noise scaled by exp(0.3 u), u ~ N(0, 1);
- own directions: each architecture reads mostly its own latent directions, from heavy-tailed
  probe samples, so the probe draw moves the pairings apart (probe noise that does not cancel);
- own directions + model effects.

Columns: the chosen interval (jackknife over models and probe blocks), the same without the probe
term (models only), each with its Monte Carlo standard error; and the power of the chosen interval
under an alternative (the GMNs' noise 1.5x: C1 and C2 are then true).

Run (from the repository root; about 10 minutes on 2 cores at the defaults)::

    .venv/bin/python bench/claims_calibration.py --replicates 1000
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gmnrep.paper.calibration import Scenario, holds_rates  # noqa: E402
from gmnrep.paper.claims import ClaimSettings  # noqa: E402

SCENARIOS = {
    "shared": {},
    "shared + model effects": {"model_effect": 0.3},
    "own directions": {"focus": 0.3, "probe_spread": 1.0},
    "own directions + model effects": {"focus": 0.3, "probe_spread": 1.0, "model_effect": 0.3},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=1000, help="simulated runs per cell")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5, 10], help="models per architecture (k)")
    parser.add_argument("--comparisons", nargs="+", default=["C1", "C2"])
    args = parser.parse_args()
    settings = ClaimSettings(
        bootstrap_replicates=0, confidence=0.95, alpha=0.05, accuracy_gap_bound=5.0, min_seeds=3, seed=0
    )
    nominal = (1 - settings.confidence) / 2
    print(f"false `holds` under the null, {args.replicates} replicates per row; nominal {nominal:.1%}")
    header = f"{'claim':<6}{'k':>3}  {'scenario':<32}{'models + probes':>18}{'models only':>18}{'power (alt.)':>14}"
    print(header)
    for comparison in args.comparisons:
        for k in args.seeds:
            power = holds_rates(Scenario(k, comparison, lower_noise_factor=1.5), settings, args.replicates // 4, 1)
            for number, (name, changes) in enumerate(SCENARIOS.items()):
                rates = holds_rates(Scenario(k, comparison, **changes), settings, args.replicates, 0)
                cells = [f"{r.value:.1%} ± {r.monte_carlo_error:.1%}" for r in rates.values()]
                alternative = f"{power['models and probes'].value:.0%}" if number == 0 else ""
                print(f"{comparison:<6}{k:>3}  {name:<32}{cells[0]:>18}{cells[1]:>18}{alternative:>14}", flush=True)


if __name__ == "__main__":
    main()
