"""Benchmark: the demo's jobs on an idle machine and beside one busy process, for each way of
running their torch threads, side by side in one run.

A researcher's laptop is never idle. A torch job with 2 threads on 2 cores, beside one other busy
process, loses most of its speed to OpenMP's active waiting: each thread spins at every barrier for
the other, which is descheduled. This bench measures each job kind at the demo preset's sizes
(presets/demo.yaml), in a fresh process, idle and beside one busy process (a Python loop spinning
on one core), under each thread setting:

- "2 threads": the demo's setting before this bench (libgomp's default waiting: spin, then sleep);
- "2 threads, passive": OMP_WAIT_POLICY=PASSIVE (threads sleep at once at a barrier);
- "2 threads, short spin": GOMP_SPINCOUNT=SHORT_SPIN (spin briefly, then sleep);
- "1 thread": one thread per job, Snakemake running as many jobs at once as it has cores.

Job kinds: an INR shard (600 digits, the demo recipe, --inr-steps steps of its fitting; seconds),
a GMN training epoch (the demo's GMN on 1257 SIRENs of the demo's shape, batch 64, AdamW) and an
activation dump (the same GMN's forward passes over the 1257 SIRENs, batches of 256). Rounds
(--rounds) alternate settings and load, so that drift falls on all alike; each cell is the best
round. Printed: seconds idle and loaded, loaded / idle (the goal: at most 1.6), and idle against
the "2 threads" idle time (the goal: within 10%).

Run (from the repository root, on an otherwise quiet machine)::

    .venv/bin/python bench/under_load.py [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHORT_SPIN = 10000
SETTINGS = {
    "2 threads": (2, {}),
    "2 threads, passive": (2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "2 threads, short spin": (2, {"GOMP_SPINCOUNT": str(SHORT_SPIN)}),
    "1 thread": (1, {}),
}
JOBS = {"inr": "INR shard (s)", "train": "GMN epoch (s)", "dump": "GMN dump (s)"}
BUSY = "while True: pass"


def measure(job: str, threads: int, inr_steps: int) -> float:
    """In a fresh process: seconds of one job kind at the demo's sizes."""
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO / "bench"))
    import pinned_numerics  # noqa: F401 (before torch, as in every job)

    # isort: split
    import numpy as np
    import torch
    import torch.nn.functional as F

    from config_recipes import config_recipe
    from gmnrep import config as gmn_config
    from gmnrep.data.formats import digits_source_file, read_digits
    from gmnrep.inr.fitting import fit_inrs
    from gmnrep.inr.siren import init_params
    from gmnrep.models.gmn import GMN

    torch.set_num_threads(threads)
    demo = gmn_config.layered([REPO / "config.yaml", REPO / "presets/demo.yaml"])
    recipe = config_recipe("dwsnets", **demo["inr"]["recipes"]["dwsnets"])
    if job == "inr":
        images = read_digits(digits_source_file())[0][:600]
        start = time.perf_counter()
        fit_inrs(images, np.arange(600), replace(recipe, max_steps=inr_steps, target_psnr=float("inf")), 0, 600, "cpu")
        return time.perf_counter() - start
    weights = [(w, b) for w, b in init_params(config_recipe("dwsnets", init="siren"), 1, 0, range(1257))]
    gmn = GMN((2, *recipe.hidden, 1), 10, **demo["models"]["gmn"]["network"])
    gmn.set_input_statistics(weights)
    labels = torch.arange(1257) % 10
    start = time.perf_counter()
    if job == "train":
        optimizer = torch.optim.AdamW(gmn.parameters(), lr=demo["models"]["gmn"]["training"]["lr"])
        for batch in torch.randperm(1257, generator=torch.Generator().manual_seed(0)).split(64):
            loss = F.cross_entropy(gmn([(w[batch], b[batch]) for w, b in weights]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    else:
        with torch.no_grad():
            for batch in torch.arange(1257).split(256):
                gmn([(w[batch], b[batch]) for w, b in weights])
    return time.perf_counter() - start


def run_child(job: str, setting: str, inr_steps: int) -> float:
    threads, env = SETTINGS[setting]
    command = [sys.executable, __file__, "--child", job, str(threads), "--inr-steps", str(inr_steps)]
    out = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--inr-steps", type=int, default=300)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # job, threads: in a fresh process
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.inr_steps)))
        return
    seconds: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for load in ("idle", "loaded"):
            busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load == "loaded" else None
            try:
                for setting in SETTINGS:
                    for job in JOBS:
                        seconds.setdefault((job, setting, load), []).append(run_child(job, setting, args.inr_steps))
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
    sys.path.insert(0, str(REPO / "src"))
    from gmnrep.provenance.records import cpu_model

    machine = f"{cpu_model()} ({os.cpu_count()} cores)"
    print(f"demo jobs idle and beside one busy process on {machine}, best of {args.rounds} rounds")
    print(f"{'job':<16} {'setting':<22} {'idle':>8} {'loaded':>8} {'loaded/idle':>12} {'idle vs 2 threads':>18}")
    for job, label in JOBS.items():
        reference = min(seconds[job, "2 threads", "idle"])
        for setting in SETTINGS:
            idle, loaded = (min(seconds[job, setting, load]) for load in ("idle", "loaded"))
            ratios = f"{loaded / idle:>12.2f} {idle / reference:>18.2f}"
            print(f"{label:<16} {setting:<22} {idle:>8.2f} {loaded:>8.2f} {ratios}")


if __name__ == "__main__":
    main()
