"""Imported first by the benchmarks that measure what jobs run: CPU numerics pinned as in every job
of the workflow (gmnrep.core.numerics, config cpu_numerics: pinned), before anything loads torch.
GMNREP_CPU_NUMERICS=native leaves each library's own choice (bench/cpu_numerics_cost.py compares)."""

import os

from gmnrep.core import numerics

if os.environ.get("GMNREP_CPU_NUMERICS", "pinned") == "pinned":
    numerics.pin()
