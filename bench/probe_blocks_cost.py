"""Benchmark: what the claims' probe-sample uncertainty adds to a CKA pair job.

A pair job computes CKA for every layer pair of two models (`cka.cka_matrix` on prepared operands)
and, for each of the claims' layers (cka.figure_layers), CKA(l, l) with each of B probe blocks left
out (`cka.cka_without_blocks`). Printed side by side, per shape (N probe samples, layer width; both
models of the width given, full rank, linear estimator): seconds for that layer pair's CKA in the
grid and for its B leave-one-block-out values, best of ``--repeats``, and their ratio.

Run (from the repository root)::

    .venv/bin/python bench/probe_blocks_cost.py --shapes 500x512 10000x1024 10000x6272 --repeats 2
"""

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gmnrep.representations import cka  # noqa: E402
from verify_on_read import best_seconds  # noqa: E402  (bench/ is the script's folder, first on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["500x512", "2000x1024"], help="NxWIDTH")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'N':>6} {'width':>6} {'rank':>6} {'CKA (s)':>10} {args.blocks:>3} blocks (s) {'ratio':>7}")
    for shape in args.shapes:
        n, width = map(int, shape.split("x"))
        shared = rng.standard_normal((n, 32), dtype=np.float32)
        layers = [np.maximum(shared @ rng.standard_normal((32, width), dtype=np.float32) + rng.standard_normal(
            (n, width), dtype=np.float32), 0) for _ in range(2)]  # fmt: skip
        a, b = (cka.prepare(layer) for layer in layers)
        del layers
        blocks = cka.probe_blocks(n, args.blocks, seed=0)
        grid = best_seconds(partial(cka.cka_matrix, [a], [b]), args.repeats)
        left_out = best_seconds(partial(cka.cka_without_blocks, a, b, blocks), args.repeats)
        rank = a.factor.shape[1]
        print(f"{n:>6} {width:>6} {rank:>6} {grid:>10.3f} {left_out:>14.3f} {left_out / grid:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
