"""Benchmark: what verifying inputs on read costs a job (gmnrep.provenance.records.verified_inputs).

Every job hashes each input (sha256) once, before its body runs, and looks up the job that made the
input among the run's provenance records. Its record reuses those hashes, so a job hashes each
input exactly once, as it did before verification existed; what verification adds is the lookup
and the input being read a second time (from the page cache, for a job that then parses it).

Printed, side by side in one run:
- sha256 throughput on a file of float32 weights (``--megabytes``, default 512): seconds per GB,
  best of ``--repeats``; and, for scale, numpy reading the same file (np.fromfile), seconds per GB;
- the record lookup (``records.producers``) over a finished run's audit folder (``--results``,
  default results/smoke if present): records read and milliseconds.

Run (from the repository root)::

    .venv/bin/python bench/verify_on_read.py --megabytes 512 --results results/fmnist
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from gmnrep.core.hashing import sha256_file  # noqa: E402
from gmnrep.provenance import records  # noqa: E402


def best_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path("results/smoke"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.bin"
        np.random.default_rng(0).standard_normal(args.megabytes * (1 << 20) // 4, dtype=np.float32).tofile(path)
        gigabytes = path.stat().st_size / 1e9
        hashing = best_seconds(lambda: sha256_file(path), args.repeats) / gigabytes
        reading = best_seconds(lambda: np.fromfile(path, dtype=np.float32), args.repeats) / gigabytes
    print(f"{'what':<40} {'seconds per GB':>15}")
    print(f"{'sha256 (verify on read)':<40} {hashing:>15.2f}")
    print(f"{'numpy read of the same file':<40} {reading:>15.2f}")
    print(f"{'ratio hash / read':<40} {hashing / reading:>15.1f}")
    audit = args.results / "audit"
    if (audit / "jobs").is_dir():
        record_count = len(list((audit / "jobs").rglob("*.json")))
        lookup = best_seconds(lambda: records.producers(audit), args.repeats)
        print(f"record lookup over {audit}: {record_count} records, {1000 * lookup:.0f} ms per job")
    else:
        print(f"{audit}/jobs: no records; run a preset first to time the record lookup")


if __name__ == "__main__":
    main()
