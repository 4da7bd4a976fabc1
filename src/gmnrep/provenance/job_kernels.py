"""Which kernels a job's numerical libraries run on this machine, pinned and native: what `gmnrep
numerics` prints and tests/test_golden.py checks. Each probe is a fresh interpreter that starts as a
job does (the environment the workflow gives it, then the library modules of a training, a CKA and a
claims job), because the pins take effect only when the libraries load."""

import json
import os
import subprocess
import sys

from gmnrep.core import numerics

# The library modules behind the jobs whose numbers the results are made of.
JOB_MODULES = ("gmnrep.models.training", "gmnrep.representations.similarity", "gmnrep.paper.claims")
_PROBE = (
    "import json; from dataclasses import asdict; import {modules}; from gmnrep.core import numerics; "
    "print(json.dumps([asdict(k) for k in numerics.loaded_kernels()]))"
)


def job_environment(pinned: bool, environ=os.environ) -> dict[str, str]:
    """A job's environment: `environ` without any pin, then pinned if `pinned` (config cpu_numerics)."""
    env = {name: value for name, value in environ.items() if name not in numerics.PINNED}
    if pinned:
        numerics.pin(env)
    return env


def job_kernels(env: dict[str, str]) -> list[numerics.Kernels]:
    """The kernels of every numerical library a job started with environment `env` loads."""
    probe = _PROBE.format(modules=", ".join(JOB_MODULES))
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"the kernel probe failed:\n{proc.stderr[-3000:]}")
    return [numerics.Kernels(**k) for k in json.loads(proc.stdout.splitlines()[-1])]


def kernel_table(native: list[numerics.Kernels], pinned: list[numerics.Kernels]) -> str:
    """Markdown table: each library's kernels native and pinned, and whether the pinned ones hold."""
    native_choice = {k.library: k.chosen for k in native}
    lines = ["| library | native | pinned | pinned to |", "|---|---|---|---|"]
    for k in pinned:
        verdict = "" if k.pinned is None else (f"**ESCAPED**: {k.pinned}" if k.escaped else k.pinned)
        lines.append(f"| {k.library} | {native_choice.get(k.library, 'not loaded')} | {k.chosen} | {verdict} |")
    return "\n".join(lines)
