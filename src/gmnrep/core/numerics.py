"""Pinned CPU numerics: the same code paths, so the same bits, on every x86-64 CPU with AVX2.

The CPU libraries under torch choose their kernels by the CPU they run on: MKL (matrix products
of the INR fitter, the trainings' linear layers) by its own dispatch, oneDNN (convolutions) up to
the widest instruction set present, ATen's vectorised elementwise code (sin, activations,
reductions) by the CPU capability it detects. The same job on an AVX-512 CPU and on an AVX2 one
then writes other bits, and at laptop scale a verdict can move. Pinned, each is held to its AVX2
branch: MKL's conditional numerical reproducibility branch, oneDNN's and ATen's maximum ISA. They
are read when the libraries load, so they are set in the environment before torch is imported:
by the workflow for every job (config `cpu_numerics`), by the benches and the golden-hash test.
Which of them changed bits was measured one at a time (docs/guarantees.md).
"""

import os
import sys

PINNED = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def pin(environ=os.environ) -> None:
    """Set the pinned values in `environ` (the process's own by default; torch must not be loaded yet
    in it, or the pins would not take)."""
    if environ is os.environ and "torch" in sys.modules:
        raise RuntimeError("CPU numerics pinned after torch was imported: they take effect only before")
    environ.update(PINNED)


def settings(environ=os.environ) -> dict[str, str | None]:
    """The pinning variables as a job saw them (None: unset, the library's own choice)."""
    return {name: environ.get(name) for name in PINNED}
