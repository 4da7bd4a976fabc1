"""What the parity benches (parity_gmn.py, parity_scalegmn.py) share: running a reference's own
training as a measured subprocess, reading its logged epochs, and printing rows side by side.

A row is one training: test and validation accuracy at the kept epoch, the epoch kept, epochs,
optimizer steps and CPU seconds.
"""

import json
import os
import subprocess
from pathlib import Path

from gmnrep.paper.spread import mean_std

COLUMNS = ("test %", "val %", "epoch kept", "epochs", "steps", "CPU s")


def run_measured(command: list[str], env: dict, output: Path) -> float:
    """Run `command` with its output in `output`; return its CPU seconds (its own and its
    children's, by wait4, so that runs side by side are each measured alone)."""
    with open(output, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[1]} failed with exit code {process.returncode}; its output: {output}")
    return usage.ru_utime + usage.ru_stime


def reference_row(log: Path, output: Path, step_key: str, cpu: float) -> dict:
    """The row of a reference's run from its log (one JSON dict per line, as it logged them to
    wandb; a record holding `step_key` is one optimizer step): the test accuracy it selected, at the
    last epoch whose validation accuracy is at least every earlier one's, and its test accuracy after
    every epoch (`curve`). SystemExit naming the run's `output` when it logged no evaluation."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    epochs = [r for r in records if "val/acc" in r]
    if not epochs:
        raise SystemExit(f"the reference logged no evaluation; its output: {output}")
    kept = max(range(len(epochs)), key=lambda i: (epochs[i]["val/acc"], i))
    return {
        "test": epochs[-1]["test/best_acc"],
        "val": epochs[-1]["val/best_acc"],
        "kept": epochs[kept]["epoch"] + 1,
        "epochs": len(epochs),
        "steps": sum(1 for r in records if step_key in r),
        "cpu": cpu,
        "curve": [e["test/acc"] for e in epochs],
    }


def print_header(labels: tuple[str, ...]) -> None:
    cells = (*labels, *COLUMNS)
    print("| " + " | ".join(cells) + " |")
    print("|" + "---|" * len(cells))


def print_row(labels: tuple, row: dict) -> None:
    cells = (
        *labels, f"{100 * row['test']:.2f}", f"{100 * row['val']:.2f}", row["kept"], row["epochs"], row["steps"],
        f"{row['cpu']:.0f}",
    )  # fmt: skip
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def print_summary(groups: dict[str, list[dict]]) -> None:
    """One line per group of trainings: test accuracy mean ± std over seeds, mean CPU seconds."""
    for name, group in groups.items():
        mean, std = mean_std([100 * r["test"] for r in group])
        cpu = sum(r["cpu"] for r in group) / len(group)
        print(f"{name}: test {mean:.2f} ± {std:.2f} % ({len(group)} seeds), {cpu:.0f} CPU s each")
