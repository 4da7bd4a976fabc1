"""The mean ± std over seeds or model pairs that the tables and figures show (numpy only: the
claims' statistics, which load scipy, are gmnrep.paper.statistics)."""

import numpy as np


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
