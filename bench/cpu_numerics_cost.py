"""Benchmark: what pinned CPU numerics cost (gmnrep.core.numerics), against each library's own
choice of kernels, side by side in one run.

Four workloads, each what jobs of the fmnist preset run: INR fitting (32 Fashion-MNIST images,
DWSNets recipe, 200 steps with every INR running all of them; microseconds per INR-step), a GMN
training step (the preset's GMN, width 32, on a batch of 64 of the preset's SIRENs, forward +
backward + AdamW; milliseconds per step), a CNN epoch (the preset's CNN on 2000 28x28 images,
batch 128; seconds), and the CKA grid of bench/cka_grid.py (15 models x 5 layers, 30 model pairs,
2000 probe samples, prepared operands: numpy and OpenBLAS; seconds). Pinning takes effect only
before torch and numpy load, so every measurement runs in a fresh process, pinned and native taking
turns (--rounds rounds), at 1 and 2 threads; each mode's best thread count and its best round
count (the least disturbed by other processes). Ratio > 1: pinned is slower.

Run (from the repository root)::

    .venv/bin/python bench/cpu_numerics_cost.py [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = {
    "inr": "INR fitting (us per INR-step)",
    "gmn": "GMN step (ms)",
    "cnn": "CNN epoch, 2000 images (s)",
    "cka": "CKA grid, 2000 probes (s)",
}
CKA_PROBES = 2000


def measure(threads: int) -> dict[str, float]:
    """In a fresh process whose environment says pinned or native: each workload's time."""
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO / "bench"))
    import pinned_numerics  # noqa: F401 (before torch)

    # isort: split
    import numpy as np
    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_limits

    import cka_grid
    from config_recipes import config_recipe
    from gmnrep import config as gmn_config
    from gmnrep.data.formats import read_idx
    from gmnrep.inr.fitting import fit_inrs
    from gmnrep.inr.siren import init_params
    from gmnrep.models.gmn import GMN
    from gmnrep.models.image_models import CNN

    torch.set_num_threads(threads)
    preset = gmn_config.layered([REPO / "config.yaml", REPO / "presets/fmnist.yaml"])
    images = read_idx(Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))[:2000].copy()
    recipe = config_recipe("dwsnets", max_steps=200, target_psnr=float("inf"))
    start = time.perf_counter()
    fit_inrs(images[:32], np.arange(32), recipe, 0, 32, "cpu")
    times = {"inr": (time.perf_counter() - start) / (32 * 200) * 1e6}
    weights = [(w, b) for w, b in init_params(config_recipe("dwsnets", init="siren"), 1, 0, range(64))]
    gmn = GMN((2, *config_recipe("dwsnets").hidden, 1), 10, **preset["models"]["gmn"]["network"])
    gmn.set_input_statistics(weights)
    labels = torch.arange(64) % 10
    optimizer = torch.optim.AdamW(gmn.parameters(), lr=1e-3)
    steps = []
    for _ in range(6):
        start = time.perf_counter()
        loss = F.cross_entropy(gmn(weights), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps.append(time.perf_counter() - start)
    times["gmn"] = statistics.median(steps[1:]) * 1e3
    cnn = CNN((28, 28), 10, **preset["models"]["cnn"]["network"])
    optimizer = torch.optim.AdamW(cnn.parameters(), lr=1e-3)
    batches = torch.from_numpy(images).split(128)
    start = time.perf_counter()
    for batch in batches:
        loss = F.cross_entropy(cnn(batch), torch.arange(len(batch)) % 10)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    times["cnn"] = time.perf_counter() - start
    models = cka_grid.features(CKA_PROBES)
    with threadpool_limits(threads):
        start = time.perf_counter()
        cka_grid.prepared_grid(models, cka_grid.model_pairs(), "linear", 0, defaultdict(float))
    times["cka"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=1, type=int, help=argparse.SUPPRESS)  # threads, in a fresh process
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0])))
        return
    sys.path.insert(0, str(REPO / "src"))
    from gmnrep.core import numerics
    from gmnrep.provenance.records import cpu_model

    runs: dict[tuple[str, int], list[dict]] = {}
    for _ in range(args.rounds):
        for threads in (1, 2):
            for mode in ("native", "pinned"):
                env = {**os.environ, "GMNREP_CPU_NUMERICS": mode}
                for name in numerics.PINNED:
                    env.pop(name, None)  # native is each library's own choice, not a leftover pin
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(threads)], env=env, capture_output=True, text=True
                )
                if out.returncode:
                    raise SystemExit(out.stderr[-3000:])
                runs.setdefault((mode, threads), []).append(json.loads(out.stdout.splitlines()[-1]))
    print(f"pinned CPU numerics against native kernels on {cpu_model()} ({os.cpu_count()} cores), {args.rounds} rounds")
    print(f"{'workload':<32} {'native':>10} {'threads':>7} {'pinned':>10} {'threads':>7} {'pinned/native':>14}")
    for key, label in WORKLOADS.items():
        best = {}
        for mode in ("native", "pinned"):
            fastest = {t: min(r[key] for r in runs[(mode, t)]) for t in (1, 2)}
            threads = min(fastest, key=fastest.get)
            best[mode] = (fastest[threads], threads)
        (native, nt), (pinned, pt) = best["native"], best["pinned"]
        print(f"{label:<32} {native:>10.2f} {nt:>7} {pinned:>10.2f} {pt:>7} {pinned / native:>14.2f}")


if __name__ == "__main__":
    main()
