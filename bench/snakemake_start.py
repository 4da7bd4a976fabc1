"""CPU time of one Snakemake start with gmnrep.provenance.code's cache of parsed modules empty, then
filled: what every dry run, every local run and both Snakemake starts of every SLURM job pay.

    .venv/bin/python bench/snakemake_start.py [--preset smoke] [--repeats 5]

Each start is a dry run of the preset's DAG in a new folder, its CPU time (its own and its children's)
taken by wait4. "empty": XDG_CACHE_HOME is a new folder for every start; "filled": one folder, filled by a
start before the measured ones. Prints every start and the medians' ratio.
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from parity import run_measured

REPOSITORY = Path(__file__).resolve().parents[1]


def dry_run(preset: str, folder: Path, cache: Path) -> float:
    """CPU seconds of a dry run of `preset` in `folder`, with the parsed modules kept in `cache`."""
    folder.mkdir()
    command = [sys.executable, "-m", "snakemake", "-s", str(REPOSITORY / "Snakefile"), "--directory", str(folder)]
    command += ["--configfile", str(REPOSITORY / "config.yaml"), str(REPOSITORY / "presets" / f"{preset}.yaml")]
    # SLURM's client, where installed, makes every start wait for a controller (tests/conftest.py)
    env = os.environ | {"XDG_CACHE_HOME": str(cache), "SLURM_CONF": os.devnull}
    return run_measured([*command, "--dry-run", "--quiet"], env, folder / "snakemake.out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke", help="presets/PRESET.yaml over config.yaml (default: smoke)")
    parser.add_argument("--repeats", type=int, default=5, help="starts of each kind (default: 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="snakemake-start-") as scratch:
        scratch = Path(scratch)
        filled = scratch / "filled-cache"
        dry_run(args.preset, scratch / "filling", filled)
        cpu = {"empty": [], "filled": []}
        print(f"dry runs of the {args.preset} preset, CPU seconds each (wait4)")
        for repeat in range(args.repeats):
            for kind in cpu:
                cache = filled if kind == "filled" else scratch / f"empty-cache-{repeat}"
                cpu[kind].append(dry_run(args.preset, scratch / f"{kind}-{repeat}", cache))
                print(f"  {kind:6s} cache, start {repeat + 1}: {cpu[kind][-1]:.2f}")
    empty, filled_median = (statistics.median(cpu[kind]) for kind in ("empty", "filled"))
    print(f"median: empty {empty:.2f} s, filled {filled_median:.2f} s; filled / empty = {filled_median / empty:.2f}")


if __name__ == "__main__":
    main()
