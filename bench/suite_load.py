"""Where the test suite's CPU time goes: its test processes (pytest, its workers and every process
they wait for) against the whole machine, which also runs what the SLURM tests submit (slurmd starts
those jobs, outside pytest's processes) and the cluster's daemons.

    .venv/bin/python bench/suite_load.py [PYTEST ARGUMENTS]    (default: -n auto, as `make test`)

Run it from the repository root of an installed checkout, on an otherwise idle machine: whatever
else the machine does meanwhile is counted as the suite's. Prints the wall time, the test processes'
CPU seconds (wait4), the machine's busy CPU seconds (/proc/stat), their difference, and how many
cores were busy on average. pytest's own output goes to results/bench/suite_load.log.
"""

import os
import sys
import time
from pathlib import Path

from parity import run_measured

REPOSITORY = Path(__file__).resolve().parents[1]
LOG = REPOSITORY / "results/bench/suite_load.log"


def machine_busy_seconds() -> float:
    """CPU seconds the machine's cores have spent on anything but idling and waiting for I/O, since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]  # guest time is inside user
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    arguments = sys.argv[1:] or ["-n", "auto"]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    busy, start = machine_busy_seconds(), time.monotonic()
    tests = run_measured([sys.executable, "-m", "pytest", *arguments], env, LOG)
    busy, wall = machine_busy_seconds() - busy, time.monotonic() - start
    print(f"pytest {' '.join(arguments)} on {os.cpu_count()} cores; its output: {LOG}")
    outside = busy - tests
    print("| wall s | test processes' CPU s | machine's busy CPU s | outside the test processes | cores busy |")
    print("|---|---|---|---|---|")
    print(f"| {wall:.0f} | {tests:.0f} | {busy:.0f} | {outside:.0f} ({outside / busy:.0%}) | {busy / wall:.2f} |")


if __name__ == "__main__":
    main()
