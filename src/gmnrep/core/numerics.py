"""Pinned CPU numerics: the same code paths, so the same bits, on every x86-64 CPU with AVX2.

The numerical libraries a job loads choose their kernels by the CPU they run on: MKL (matrix
products of the INR fitter, the trainings' linear layers) by its own dispatch, oneDNN
(convolutions) up to the widest instruction set present, ATen's vectorised elementwise code (sin,
activations, reductions) by the CPU capability it detects, OpenBLAS (numpy's and scipy's matrix
products and LAPACK: every CKA value, jackknife and claim) by the core it detects, and numpy's own
loops by the SIMD targets it finds. The same job on an AVX-512 CPU and on an AVX2 one then writes
other bits, and at laptop scale a verdict can move. Pinned, each is held to its AVX2 branch: MKL's
conditional numerical reproducibility branch, oneDNN's and ATen's maximum ISA, OpenBLAS's Haswell
kernels (its AVX2 set, which every AVX2 CPU runs), numpy's AVX2 target (every dispatch target above
it switched off). They are read when the libraries load, so they are set in the environment
before torch or numpy is imported: by the workflow for every job (config `cpu_numerics`), by the
benches and the golden-hash test. `loaded_kernels` asks the loaded libraries which kernels they
actually chose, so that a library that escaped its pin is seen (docs/guarantees.md).
"""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

# numpy 2.4's dispatch targets above X86_V3 (its AVX2 level). A numpy with other targets shows as
# escaped in `loaded_kernels`, so a version change cannot slip past the pin unseen.
NUMPY_TARGET = "X86_V3"
NUMPY_TARGETS_ABOVE = ("X86_V4", "AVX512_ICL", "AVX512_SPR")

PINNED = {
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": " ".join(NUMPY_TARGETS_ABOVE),
}
# Libraries whose choice the pins decide, once any of them is loaded it is too late to pin the process.
_PINNED_AT_LOAD = ("torch", "numpy")


def pin(environ=os.environ, *, jobs_only: bool = False) -> None:
    """Set the pinned values in `environ` (the process's own by default). Neither torch nor numpy may
    be loaded yet in this process, or the pins would not take in it; `jobs_only` says the process
    computes nothing and pins only for the jobs it starts (the workflow: Snakemake loads numpy)."""
    if environ is os.environ and not jobs_only:
        loaded = [name for name in _PINNED_AT_LOAD if name in sys.modules]
        if loaded:
            raise RuntimeError(
                f"CPU numerics pinned after {' and '.join(loaded)} had been imported: they take effect only before"
            )
    environ.update(PINNED)


def settings(environ=os.environ) -> dict[str, str | None]:
    """The pinning variables as a job saw them (None: unset, the library's own choice)."""
    return {name: environ.get(name) for name in PINNED}


@dataclass(frozen=True)
class Kernels:
    """One numerical library loaded in this process and the kernels it runs.

    `pinned` is what the pins hold it to; None for a library that only schedules threads (OpenMP)."""

    library: str
    chosen: str
    pinned: str | None

    @property
    def escaped(self) -> bool:
        return self.pinned is not None and self.chosen != self.pinned


def _blas_kernels(info: dict) -> Kernels:
    version = f" {info['version']}" if info.get("version") else ""
    name = f"{info['internal_api']}{version} ({Path(info['filepath']).name})"
    if info["internal_api"] == "openblas":
        return Kernels(name, info.get("architecture") or "unknown", PINNED["OPENBLAS_CORETYPE"])
    if info["internal_api"] == "mkl":  # MKL cannot be asked for its branch: the variable it reads is the answer
        return Kernels(name, f"MKL_CBWR={os.environ.get('MKL_CBWR', 'unset')}", f"MKL_CBWR={PINNED['MKL_CBWR']}")
    if info["user_api"] == "openmp":
        return Kernels(name, "threads only", None)
    return Kernels(name, info.get("architecture") or "unknown", "no pin exists for this library")


def loaded_kernels() -> list[Kernels]:
    """Every numerical library loaded in this process that can say which kernels it chose: each BLAS
    and OpenMP runtime (threadpoolctl), numpy's SIMD dispatch, torch's ATen CPU capability. MKL and
    oneDNN inside torch cannot be asked; the golden hashes check them (tests/test_golden.py)."""
    from threadpoolctl import threadpool_info

    kernels = [_blas_kernels(info) for info in threadpool_info()]
    if "numpy" in sys.modules:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        active = [target for target in __cpu_dispatch__ if __cpu_features__.get(target)]
        kernels.append(Kernels("numpy SIMD dispatch", active[-1] if active else "baseline", NUMPY_TARGET))
    if "torch" in sys.modules:
        capability = sys.modules["torch"].backends.cpu.get_cpu_capability()
        kernels.append(Kernels("torch ATen", capability, PINNED["ATEN_CPU_CAPABILITY"].upper()))
    return kernels
