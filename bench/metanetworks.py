"""Weight-space architectures side by side on a run: test accuracy, CPU time per training and
seed-to-seed CKA(l, l), from the run's metrics records, Snakemake benchmark files and CKA tables
(what docs/science.md, "A second metanetwork" and "Metanetwork families", report), the verdicts of
each claim per architecture from its claims table, and the CPU time
of the whole run by stage (every job's benchmark file: what the preset costs from scratch). Reads
only; computes nothing new.

Run (from the repository root, after a run of a preset with several weight-space architectures,
e.g. `make fmnist-scalegmn`; --seeds restricts to the seeds whose pairs were computed)::

    .venv/bin/python bench/metanetworks.py --results results/fmnist_scalegmn \\
        --logs logs/fmnist_scalegmn --dataset fashion_mnist --seeds 0 2 4
"""

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from gmnrep.models import registry
from gmnrep.paper.cka_results import by_pairing, read_chance_floors, read_cka_tables
from gmnrep.paper.spread import mean_std
from gmnrep.representations.pairs import model_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--logs", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    args = parser.parse_args()
    archs = [a for a in registry.weight_space_archs() if (args.results / f"models/{args.dataset}/{a}").is_dir()]
    print("architecture | seed | test % | val % | epoch kept | CPU s (benchmark) | parameters")
    for arch in archs:
        tests = []
        for seed in args.seeds:
            metrics = json.loads((args.results / f"models/{args.dataset}/{arch}/seed-{seed}.metrics.json").read_text())
            cpu = benchmark_cpu(args.logs / f"benchmarks/models/{args.dataset}/{arch}/seed-{seed}.tsv")
            tests.append(100 * metrics["test_acc"])
            print(
                f"{arch} | {seed} | {tests[-1]:.2f} | {100 * metrics['val_acc']:.2f} | {metrics['best_epoch']} | "
                f"{cpu:.0f} | {metrics['num_parameters']}"
            )
        print(f"{arch} test accuracy over seeds {args.seeds}: {'{:.2f} ± {:.2f}'.format(*mean_std(tests))}")
    paths = [
        args.results / f"cka/{args.dataset}/{a}-{s}__{b}-{t}.csv"
        for (a, s), (b, t) in model_pairs(archs, args.seeds, "all")
    ]
    tables = read_cka_tables(paths, args.dataset)
    # Compared layers are numbered as in the deepest networks and aligned at the top
    # (gmnrep.representations.compared_layers); a shallower network has no layer l below its first.
    deepest = max(max(t.cka.shape) for t in tables)
    print(f"pairing | pairs | CKA(l, l) for l = 1..{deepest} aligned at the top, mean ± std (each pair's value)")
    for name, group in by_pairing(tables).items():
        cells = []
        for l in range(1, deepest + 1):
            if min(group[0].cka.shape) <= deepest - l:
                cells.append("-")
                continue
            values = [t.compared(l, deepest) for t in group]
            cells.append("{:.3f} ± {:.3f}".format(*mean_std(values)) + f" ({', '.join(f'{v:.3f}' for v in values)})")
        print(f"{name} | {len(group)} | " + " | ".join(cells))
    chance = sorted((args.results / f"cka/{args.dataset}/chance").glob("*.csv"))
    floors = read_chance_floors(chance, args.dataset)
    for arch in archs:
        rows = [floors[(arch, seed)] for seed in args.seeds]
        print(f"{arch} chance CKA per layer: {np.round(np.mean(rows, axis=0), 3).tolist()}")
    claims = args.results / "tables/claims.csv"
    if claims.exists():
        with open(claims) as f:
            rows = [row for row in csv.DictReader(f) if row["dataset"] == args.dataset and row["verdict"] != "context"]
        print("claim | subject | rows | verdicts")
        for claim in sorted({row["claim"] for row in rows}):
            for arch in archs:
                verdicts = Counter(row["verdict"] for row in rows if row["claim"] == claim and row["subject"] == arch)
                counts = ", ".join(f"{n} {verdict}" for verdict, n in verdicts.most_common())
                print(f"{claim} | {arch} | {sum(verdicts.values())} | {counts}")
    stages = defaultdict(lambda: [0, 0.0])
    for benchmark in sorted((args.logs / "benchmarks").rglob("*.tsv")):
        stage = stages[benchmark.relative_to(args.logs / "benchmarks").parts[0]]
        stage[0], stage[1] = stage[0] + 1, stage[1] + benchmark_cpu(benchmark)
    print("stage | jobs | CPU s (every job's benchmark)")
    for name, (jobs, cpu) in stages.items():
        print(f"{name} | {jobs} | {cpu:.0f}")
    print(f"all | {sum(j for j, _ in stages.values())} | {sum(c for _, c in stages.values()):.0f}")


def benchmark_cpu(path: Path) -> float:
    """The CPU seconds a Snakemake benchmark file records."""
    header, values = (line.split("\t") for line in path.read_text().splitlines())
    return float(dict(zip(header, values))["cpu_time"])


if __name__ == "__main__":
    main()
