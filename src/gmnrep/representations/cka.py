"""Centered kernel alignment (CKA): how similar two layers' representations of the same inputs are.

A representation is an n x d matrix: one row per probe sample, one column per feature. Two layers
(of one network or of two) are compared on the same n samples in the same row order; their widths
d1 and d2 may differ. Everything is computed in float64; inputs may be numpy arrays or torch
tensors (any real dtype, any device) and results are Python floats.

Linear CKA (Kornblith et al. 2019, "Similarity of neural network representations revisited")
--------------------------------------------------------------------------------------------
With X and Y column-centred (each feature minus its mean over the n samples)::

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)                 (feature form)
              = <K, L>_F / (||K||_F ||L||_F),  K = X X^T, L = Y Y^T        (Gram form)

The two forms are equal because <X X^T, Y Y^T>_F = ||Y^T X||_F^2. It is HSIC with linear kernels,
normalised; the 1/(n-1)^2 of HSIC cancels. Linear CKA lies in [0, 1], is symmetric, equals 1 for
CKA(X, X) and is invariant to orthogonal transforms and isotropic scaling of either side (but not
to general invertible linear maps). Costs, in multiply-adds (X^T X and X X^T are symmetric, so
BLAS syrk computes half of each): feature form n (d1^2 / 2 + d2^2 / 2 + d1 d2), Gram form
n^2 (d1 + d2) / 2 + n^2. `linear_cka` uses whichever is cheaper for the shapes.

Minibatch CKA (Nguyen, Raghu & Kornblith 2021, "Do wide and deep networks learn the same things?")
---------------------------------------------------------------------------------------------------
A seeded permutation of the n rows (``numpy.random.default_rng(seed).permutation(n)``) is cut into
k = n // batch_size consecutive batches of batch_size rows; the n - k * batch_size rows left at the
end of the permutation are dropped (a random subset of at most batch_size - 1 samples). With
K_i, L_i the linear Gram matrices of batch i::

    CKA_mb = mean_i HSIC_1(K_i, L_i) / sqrt(mean_i HSIC_1(K_i, K_i) * mean_i HSIC_1(L_i, L_i))

where HSIC_1 is the unbiased estimator of Song et al. 2012 ("Feature selection via dependence
maximization"), for a batch of b samples and diagonal-zeroed Grams K~, L~ (K~ = K - diag(K))::

    HSIC_1(K, L) = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((b-1)(b-2)) - 2/(b-2) 1^T K~ L~ 1] / (b(b-3))

It needs b >= 4 (the b(b-3) denominator). HSIC_1 is invariant to shifting the features, so the
batches need no centring (we centre over all n samples anyway, for round-off). The mean of the
batches' unbiased estimates is an unbiased estimate of HSIC, so the ratio converges to population
CKA as n grows, for any fixed batch size. HSIC_1(K, K) >= 0 (it is a squared norm of the U-centred Gram, Szekely & Rizzo
2014), and by Cauchy-Schwarz the estimate lies in [-1, 1]; it can be slightly negative for
unrelated features.

What CKA cannot be computed for
-------------------------------
Inputs must be 2-D (samples x features), finite, with the same number of rows. A feature that is
constant over the samples is zero after centring and contributes nothing: it is left out (exactly,
without rounding), and the others give a well-defined value. If every feature of a side is
constant, its representation is zero after centring, its self-similarity (a denominator) is 0, and
CKA is undefined (0/0): `DegenerateCKAError`, never NaN. The same holds for a minibatch
representation whose batches all have zero HSIC_1 with themselves. These refusals, and the ones
for bad arguments, are `CKAInputError` (a `ValueError` and a `GmnrepError`).

Reusing per-layer work across pairs
-----------------------------------
The pipeline compares every layer of a model with every layer of several other models. The work
that depends on one layer only is done once by `prepare`, which returns an `Operand`; `cka` and
`cka_matrix` then only compute the cross terms between operands.

- ``linear``: a factor F (n x r, float64) with F F^T = K, the Gram matrix of the centred X, and the
  self term ||F^T F||_F = ||K||_F. When X has at most n non-constant columns, F is the centred X
  itself (r = d). Otherwise F comes from K (rank at most n - 1): the centred Cholesky factor of
  K + c 1 1^T (r = n) when K has rank n - 1, as for generic data; else (lower rank)
  U sqrt(Lambda) from an eigendecomposition K = U Lambda U^T, keeping the eigenvalues above
  max(Lambda) * n * machine epsilon (the others are 0 up to round-off), so r = rank(K). Details in
  `_linear_factor`. A pair then costs ||F_a^T F_b||_F^2, n * r_a * r_b multiply-adds:
  n * min(n, d_a) * min(n, d_b) at most.
- ``minibatch``: the diagonal-zeroed Gram of every batch (k x b x b), with the per-batch row sums
  K~ 1 and totals 1^T K~ 1 HSIC_1 needs, and the self term mean_i HSIC_1(K_i, K_i). A pair costs
  about k * b^2 = n * b multiply-adds, whatever the widths.

``linear_cka(X, Y) == cka(prepare(X), prepare(Y))`` and ``minibatch_cka(X, Y, b, seed) ==
cka(prepare(X, "minibatch", b, seed), prepare(Y, "minibatch", b, seed))`` up to round-off.

Storing operands
----------------
``Operand.to_arrays()`` gives a dict of numpy arrays (scalars as 0-d arrays) that HDF5 stores as
datasets, and ``Operand.from_arrays(arrays)`` rebuilds the operand. The key ``"estimator"`` holds
the estimator's name as a 0-d bytes array (dtype S; h5py stores it as a fixed-length ASCII
string and reads it back as bytes; str is accepted too). Linear: ``factor`` (n x r) and
``self_term``. Minibatch: ``grams`` (k x b x b), ``n`` and ``seed``; the row sums, totals and self
term are recomputed from the Grams on loading (cheap: k * b^2). Memory of an operand: linear
8 * n * min(d, n) bytes; minibatch 8 * k * b^2 ~ 8 * n * b bytes.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from gmnrep.core.errors import DataError, GmnrepError

ESTIMATORS = ("linear", "minibatch")
# The values each estimator can give (see above): linear CKA is a ratio of squared norms, the
# minibatch (debiased) estimator a correlation of unbiased HSIC estimates.
VALUE_RANGE = {"linear": (0.0, 1.0), "minibatch": (-1.0, 1.0)}
MIN_BATCH_SIZE = 4
EPSILON = np.finfo(np.float64).eps


class CKAInputError(GmnrepError, ValueError):
    """Inputs or arguments CKA cannot be computed from (shape, values, batch size, mismatched operands)."""


class DegenerateCKAError(CKAInputError):
    """CKA is undefined: a representation has zero similarity with itself (e.g. every feature constant)."""


def _as_matrix(X, name: str) -> np.ndarray:
    """X as a checked 2-D numpy array of floats, kept in its own float dtype: float32 activations are
    checked at half the memory traffic and converted to float64 once, by `_centred_varying_columns`."""
    torch = sys.modules.get("torch")  # X can only be a tensor if torch is loaded; CKA jobs never load it
    if torch is not None and isinstance(X, torch.Tensor):
        X = X.detach().cpu()
        X = (X.float() if X.dtype == torch.bfloat16 else X).numpy()  # numpy lacks bfloat16; float32 holds it
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise CKAInputError(f"{name} must be 2-D (samples x features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise CKAInputError(f"{name} has no samples (shape {X.shape})")
    if not np.isfinite(X).all():
        raise CKAInputError(f"{name} has {np.count_nonzero(~np.isfinite(X))} non-finite value(s) (NaN or inf)")
    return X


def _centred_varying_columns(X: np.ndarray, name: str) -> np.ndarray:
    """X (from `_as_matrix`) in float64 minus its column means, without the constant columns;
    refuses X if every column is constant."""
    # Constant columns are found exactly (max == min); centring them by their computed mean could
    # leave round-off instead of zeros.
    varying = X.max(axis=0) != X.min(axis=0)
    if not varying.any():
        raise DegenerateCKAError(
            f"every feature of {name} (shape {X.shape}) is constant over the samples: after centring {name} "
            f"is zero, its similarity with itself is 0 and CKA is undefined (0/0)"
        )
    centred = (X if varying.all() else X[:, varying]).astype(np.float64)  # a copy, ours to change
    centred -= centred.mean(axis=0)
    return centred


def _centred_pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X, Y = _as_matrix(X, "X"), _as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise CKAInputError(
            f"X and Y must have the same samples in the same order: X has {X.shape[0]} rows, Y {Y.shape[0]}"
        )
    return _centred_varying_columns(X, "X"), _centred_varying_columns(Y, "Y")


def _squared_frobenius_of_product(A: np.ndarray, B: np.ndarray) -> float:
    """||A^T B||_F^2. All products stay in numpy's BLAS: torch's was no faster for large products
    here and up to 2x slower for small ones, where the two libraries' thread pools take turns."""
    return float(np.linalg.norm(A.T @ B) ** 2)


def _require_positive(self_term: float, name: str) -> float:
    if not self_term > 0 or not np.isfinite(self_term):
        raise DegenerateCKAError(
            f"the similarity of {name} with itself is {self_term!r}, so CKA is undefined; {name} has no "
            f"usable variation (or its values under/overflow float64)"
        )
    return self_term


# --------------------------------------------------------------------------------------------------
# Linear CKA


def _feature_form_cost(n: int, d1: int, d2: int) -> float:
    return n * (d1 * d1 / 2 + d2 * d2 / 2 + d1 * d2)


def _gram_form_cost(n: int, d1: int, d2: int) -> float:
    return n * n * (d1 + d2) / 2 + n * n


def linear_cka(X, Y) -> float:
    """Linear CKA (Kornblith et al. 2019) of X (n x d1) and Y (n x d2), in [0, 1].

    ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred X, Y, computed in the feature form
    or the equal Gram form <K, L>_F / (||K||_F ||L||_F), K = X X^T, L = Y Y^T, whichever is cheaper
    (see the module docstring). Constant features are left out; `DegenerateCKAError` if every feature
    of X or of Y is constant; `CKAInputError` for inputs that are not 2-D, not finite or differ in n.
    """
    X, Y = _centred_pair(X, Y)
    n, d1, d2 = X.shape[0], X.shape[1], Y.shape[1]
    if _feature_form_cost(n, d1, d2) <= _gram_form_cost(n, d1, d2):
        cross = _squared_frobenius_of_product(X, Y)
        self_x, self_y = np.linalg.norm(X.T @ X), np.linalg.norm(Y.T @ Y)
    else:
        K, L = X @ X.T, Y @ Y.T
        cross = float(K.ravel() @ L.ravel())
        self_x, self_y = np.linalg.norm(K), np.linalg.norm(L)
    return cross / (_require_positive(float(self_x), "X") * _require_positive(float(self_y), "Y"))


def _linear_factor(X: np.ndarray) -> tuple[np.ndarray, float]:
    """(F, ||F^T F||_F) with F F^T = X X^T =: K for centred X (n x d). F is X itself when d <= n.

    Otherwise F comes from K, which has rank at most n - 1 (K 1 = 0). When the rank is n - 1, the
    constant vector spans K's null space, so K + c 1 1^T (c > 0) is positive definite, and with
    H = I - 1 1^T / n and its Cholesky factor L: (H L)(H L)^T = H (K + c 1 1^T) H = K. So F = L
    minus its column means, at a tenth of the cost of an eigendecomposition. c = tr(K) / (n(n-1)),
    the mean nonzero eigenvalue of K, keeps the added direction as well conditioned as the others.
    If Cholesky fails or a pivot is at round-off level (rank below n - 1), F = U sqrt(Lambda) from
    K = U Lambda U^T, keeping only the eigenvalues above max(Lambda) * n * machine epsilon.
    """
    n, d = X.shape
    if d <= n:
        return X, float(np.linalg.norm(X.T @ X))
    gram = X @ X.T
    self_term = float(np.linalg.norm(gram))  # = ||F^T F||_F, without another n^3 product
    trace = np.trace(gram)
    try:
        lower = np.linalg.cholesky(gram + trace / (n * (n - 1)))  # adding a scalar adds c 1 1^T
        if np.diag(lower).min() ** 2 > trace * n * EPSILON:
            return lower - lower.mean(axis=0), self_term
    except np.linalg.LinAlgError:
        pass
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    keep = eigenvalues > eigenvalues[-1] * n * EPSILON
    return eigenvectors[:, keep] * np.sqrt(eigenvalues[keep]), self_term


# --------------------------------------------------------------------------------------------------
# Minibatch CKA


def _check_batching(n: int, batch_size, name: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise CKAInputError(f"batch_size must be an integer, got {batch_size!r}")
    if batch_size < MIN_BATCH_SIZE:
        raise CKAInputError(
            f"batch_size is {batch_size}, but minibatch CKA needs batch_size >= {MIN_BATCH_SIZE}: the unbiased "
            f"HSIC estimator divides by b(b-3) (and by (b-1)(b-2)), which is 0 or negative for b < 4"
        )
    if n < batch_size:
        raise CKAInputError(f"{name} has {n} samples, fewer than one minibatch of batch_size {batch_size}")
    return int(batch_size)


def _batches(X: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """The rows of X in k = n // batch_size seeded batches: k x batch_size x d (remainder dropped)."""
    k = X.shape[0] // batch_size
    rows = np.random.default_rng(seed).permutation(X.shape[0])[: k * batch_size]
    return X[rows].reshape(k, batch_size, X.shape[1])


def _zero_diagonal_grams(batches: np.ndarray) -> np.ndarray:
    grams = np.empty((batches.shape[0], batches.shape[1], batches.shape[1]))
    for i, batch in enumerate(batches):
        np.matmul(batch, batch.T, out=grams[i])
    diagonal = np.arange(batches.shape[1])
    grams[:, diagonal, diagonal] = 0
    return grams


def _hsic1_scales(b: int) -> tuple[float, float, float]:
    """(1 / (b(b-3)), 1 / ((b-1)(b-2)), 2 / (b-2)): the constants of HSIC_1 for batches of b."""
    return 1 / (b * (b - 3)), 1 / ((b - 1) * (b - 2)), 2 / (b - 2)


def _mean_hsic1(trace_terms, total_products, row_sum_products, b: int):
    """mean over batches of HSIC_1 from its per-batch parts tr(K~ L~), (1^T K~ 1)(1^T L~ 1) and
    (K~ 1).(L~ 1), each summed over the k batches (scalars or arrays of them); divided by k outside."""
    scale, total_scale, row_sum_scale = _hsic1_scales(b)
    return scale * (trace_terms + total_scale * total_products - row_sum_scale * row_sum_products)


def _minibatch_feature_form(X_batches: np.ndarray, Y_batches: np.ndarray) -> np.ndarray:
    """[mean HSIC_1(K_i, L_i), mean HSIC_1(K_i, K_i), mean HSIC_1(L_i, L_i)] from the batches'
    features, never forming a Gram. With X_i centred within the batch, K = X_i X_i^T has zero row
    sums, so with a = diag(K), c = diag(L): tr(K~ L~) = ||X_i^T Y_i||_F^2 - a.c,
    (1^T K~ 1)(1^T L~ 1) = sum(a) sum(c) and 1^T K~ L~ 1 = (K~ 1).(L~ 1) = a.c."""
    k, b = X_batches.shape[:2]
    parts = np.zeros((3, 3))  # rows: (X, Y), (X, X), (Y, Y); columns: the three sums of _mean_hsic1
    for X, Y in zip(X_batches, Y_batches):
        X, Y = X - X.mean(axis=0), Y - Y.mean(axis=0)
        a, c = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
        pairs = (
            (_squared_frobenius_of_product(X, Y), a, c),
            (np.linalg.norm(X.T @ X) ** 2, a, a),
            (np.linalg.norm(Y.T @ Y) ** 2, c, c),
        )
        for row, (squared_norm, u, v) in enumerate(pairs):
            parts[row] += (squared_norm - u @ v, u.sum() * v.sum(), u @ v)
    return _mean_hsic1(parts[:, 0], parts[:, 1], parts[:, 2], b) / k


def minibatch_cka(X, Y, batch_size: int, seed: int = 0) -> float:
    """Minibatch CKA (Nguyen et al. 2021) of X (n x d1) and Y (n x d2), in [-1, 1].

    mean_i HSIC_1(K_i, L_i) / sqrt(mean_i HSIC_1(K_i, K_i) mean_i HSIC_1(L_i, L_i)) over the
    n // batch_size batches of a seeded permutation of the rows (the remainder is dropped), with the
    unbiased HSIC_1 of Song et al. 2012 (formula in the module docstring). Each batch is computed in
    the Gram form or, when cheaper (widths well below batch_size), the equal feature form.
    `CKAInputError` for batch_size < 4 or n < batch_size; `DegenerateCKAError` when a side has no
    variation.
    """
    X, Y = _centred_pair(X, Y)
    b = _check_batching(X.shape[0], batch_size, "X")
    X_batches, Y_batches = _batches(X, b, seed), _batches(Y, b, seed)
    d1, d2 = X.shape[1], Y.shape[1]
    if _feature_form_cost(b, d1, d2) <= _gram_form_cost(b, d1, d2):
        cross, self_x, self_y = _minibatch_feature_form(X_batches, Y_batches)
    else:
        x_operand = MinibatchOperand(_zero_diagonal_grams(X_batches), X.shape[0], int(seed))
        y_operand = MinibatchOperand(_zero_diagonal_grams(Y_batches), Y.shape[0], int(seed))
        cross = _minibatch_cross_matrix([x_operand], [y_operand])[0, 0]
        self_x, self_y = x_operand.self_term, y_operand.self_term
    return float(cross / np.sqrt(_require_positive(self_x, "X") * _require_positive(self_y, "Y")))


# --------------------------------------------------------------------------------------------------
# Prepared operands


def _estimator_name(value) -> str:
    value = np.asarray(value).item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


class Operand(ABC):
    """The per-layer part of CKA for one representation of n samples; built by `prepare`, paired
    by `cka` and `cka_matrix`. A `LinearOperand` or a `MinibatchOperand`."""

    estimator: ClassVar[str]
    array_keys: ClassVar[tuple[str, ...]]  # what from_arrays needs besides "estimator"
    n: int

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """numpy arrays (scalars 0-d) for HDF5, the estimator's name under "estimator" (0-d bytes)."""

    @staticmethod
    def from_arrays(arrays: Mapping[str, object]) -> Operand:
        """The operand `to_arrays` described (as read back from HDF5); `DataError` if they do not fit."""
        if "estimator" not in arrays:
            raise DataError(f"CKA operand arrays lack 'estimator' (keys: {', '.join(sorted(arrays))})")
        estimator = _estimator_name(arrays["estimator"])
        kinds = {kind.estimator: kind for kind in (LinearOperand, MinibatchOperand)}
        if estimator not in kinds:
            raise DataError(f"CKA operand arrays: unknown estimator {estimator!r}; expected one of {ESTIMATORS}")
        kind = kinds[estimator]
        missing = [key for key in kind.array_keys if key not in arrays]
        if missing:
            raise DataError(f"CKA operand arrays ({estimator}) lack {', '.join(missing)}")
        return kind._from_arrays(arrays)

    @abstractmethod
    def _compatibility(self) -> tuple:
        """What two operands must share to be paired."""


@dataclass(frozen=True, eq=False)
class LinearOperand(Operand):
    """factor: F (n x r, float64) with F F^T = the centred Gram matrix; self_term: ||F^T F||_F."""

    factor: np.ndarray
    self_term: float

    estimator = "linear"
    array_keys = ("factor", "self_term")

    @property
    def n(self) -> int:
        return self.factor.shape[0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "estimator": np.array(self.estimator.encode()),
            "factor": self.factor,
            "self_term": np.asarray(self.self_term, dtype=np.float64),
        }

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, object]) -> LinearOperand:
        factor = np.asarray(arrays["factor"], dtype=np.float64)
        self_term = np.asarray(arrays["self_term"], dtype=np.float64)
        if factor.ndim != 2 or factor.shape[1] == 0 or self_term.shape != () or not self_term > 0:
            raise DataError(
                f"CKA operand arrays (linear): expected a non-empty 2-D factor and a positive scalar self_term, "
                f"got factor shape {factor.shape}, self_term {self_term!r}"
            )
        return cls(factor, float(self_term))

    def _compatibility(self) -> tuple:
        return ("linear", self.n)


@dataclass(frozen=True, eq=False)
class MinibatchOperand(Operand):
    """grams: the k diagonal-zeroed batch Grams (k x b x b) of a representation of n samples cut
    with `seed`; row_sums (k x b), totals (k) and self_term (mean_i HSIC_1(K_i, K_i)) follow from them."""

    grams: np.ndarray
    n: int
    seed: int
    row_sums: np.ndarray = field(init=False)
    totals: np.ndarray = field(init=False)
    self_term: float = field(init=False)

    estimator = "minibatch"
    array_keys = ("grams", "n", "seed")

    def __post_init__(self):
        row_sums = self.grams.sum(axis=2)
        totals = row_sums.sum(axis=1)
        object.__setattr__(self, "row_sums", row_sums)
        object.__setattr__(self, "totals", totals)
        object.__setattr__(self, "self_term", float(_minibatch_cross_matrix([self], [self])[0, 0]))

    @property
    def batch_size(self) -> int:
        return self.grams.shape[1]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "estimator": np.array(self.estimator.encode()),
            "grams": self.grams,
            "n": np.asarray(self.n, dtype=np.int64),
            "seed": np.asarray(self.seed, dtype=np.int64),
        }

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, object]) -> MinibatchOperand:
        grams = np.asarray(arrays["grams"], dtype=np.float64)
        n, seed = np.asarray(arrays["n"]), np.asarray(arrays["seed"])
        if (
            grams.ndim != 3
            or grams.shape[0] == 0
            or grams.shape[1] != grams.shape[2]
            or grams.shape[1] < MIN_BATCH_SIZE
            or n.shape != ()
            or seed.shape != ()
            or grams.shape[0] * grams.shape[1] > n
        ):
            raise DataError(
                f"CKA operand arrays (minibatch): expected grams k x b x b (b >= {MIN_BATCH_SIZE}, k * b <= n) "
                f"and scalar n, seed; got grams {grams.shape}, n {n!r}, seed {seed!r}"
            )
        return cls(grams, int(n), int(seed))

    def _compatibility(self) -> tuple:
        return ("minibatch", self.n, self.batch_size, self.seed)


def prepare(X, estimator: str = "linear", batch_size: int | None = None, seed: int = 0) -> Operand:
    """All the per-layer work of CKA for one representation X (n x d), to pair with `cka`.

    estimator "linear" (batch_size must be None; seed unused): the centred X (constant columns left
    out) as the factor when it has at most n columns, else a factor of its Gram matrix
    (`_linear_factor`); "minibatch": the batches' diagonal-zeroed Grams for batch_size and seed. See the
    module docstring. `DegenerateCKAError` if X has no variation (CKA with it is undefined).
    """
    if estimator not in ESTIMATORS:
        raise CKAInputError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    X = _centred_varying_columns(_as_matrix(X, "X"), "X")
    if estimator == "linear":
        if batch_size is not None:
            raise CKAInputError(
                f"batch_size is for the minibatch estimator only; linear CKA got batch_size={batch_size}"
            )
        factor, self_term = _linear_factor(X)
        return LinearOperand(np.ascontiguousarray(factor), _require_positive(self_term, "X"))
    if batch_size is None:
        raise CKAInputError("the minibatch estimator needs batch_size (samples per minibatch, >= 4)")
    b = _check_batching(X.shape[0], batch_size, "X")
    operand = MinibatchOperand(_zero_diagonal_grams(_batches(X, b, seed)), X.shape[0], int(seed))
    _require_positive(operand.self_term, "X")
    return operand


def _check_compatible(a_operands: Sequence[Operand], b_operands: Sequence[Operand]) -> None:
    operands = [*a_operands, *b_operands]
    if not a_operands or not b_operands:
        raise CKAInputError("cka_matrix needs at least one operand on each side")
    for operand in operands:
        if not isinstance(operand, Operand):
            raise CKAInputError(
                f"expected Operands from gmnrep.representations.cka.prepare, got {type(operand).__name__}"
            )
    first = operands[0]._compatibility()
    for operand in operands[1:]:
        if operand._compatibility() != first:
            raise CKAInputError(
                "CKA operands must come from the same estimator, number of samples and (minibatch) batch size "
                f"and seed: {first} vs {operand._compatibility()} (estimator, n[, batch_size, seed])"
            )


def _linear_cross_matrix(a_operands: Sequence[LinearOperand], b_operands: Sequence[LinearOperand]) -> np.ndarray:
    """||F_a^T F_b||_F^2 for every pair. One product per pair: concatenating a model's factors into
    one product per model pair was no faster (the copy costs what the larger product saves)."""
    return np.array([[_squared_frobenius_of_product(a.factor, b.factor) for b in b_operands] for a in a_operands])


def _minibatch_cross_matrix(
    a_operands: Sequence[MinibatchOperand], b_operands: Sequence[MinibatchOperand]
) -> np.ndarray:
    """mean_i HSIC_1(K_i, L_i) for every pair, from the stored batch Grams and their sums. One dot
    product per pair: stacking the Grams for one matrix product was 2-7x slower (the copy)."""

    def parts(a: MinibatchOperand, b: MinibatchOperand) -> tuple[float, float, float]:
        # tr(K~ L~) = <K~, L~>_F, the Grams being symmetric
        return (
            float(a.grams.ravel() @ b.grams.ravel()),
            float(a.totals @ b.totals),
            float(a.row_sums.ravel() @ b.row_sums.ravel()),
        )

    sums = np.array([[parts(a, b) for b in b_operands] for a in a_operands])
    k = a_operands[0].grams.shape[0]
    return _mean_hsic1(sums[..., 0], sums[..., 1], sums[..., 2], a_operands[0].batch_size) / k


def cka_matrix(a_operands: Sequence[Operand], b_operands: Sequence[Operand]) -> np.ndarray:
    """CKA of every operand of `a_operands` with every one of `b_operands`: an L_a x L_b float64 array.

    All operands must come from `prepare` with the same estimator, n and (minibatch) batch_size and
    seed; `CKAInputError` otherwise.
    """
    _check_compatible(a_operands, b_operands)
    if a_operands[0].estimator == "linear":
        cross = _linear_cross_matrix(a_operands, b_operands)
        return cross / np.outer([a.self_term for a in a_operands], [b.self_term for b in b_operands])
    cross = _minibatch_cross_matrix(a_operands, b_operands)
    return cross / np.sqrt(np.outer([a.self_term for a in a_operands], [b.self_term for b in b_operands]))


# --------------------------------------------------------------------------------------------------
# Probe-sample uncertainty: CKA with each block of probe samples left out


def probe_blocks(n: int, blocks: int, seed: int) -> np.ndarray:
    """Each of n probe samples' block (0..blocks-1): a seeded permutation cut into `blocks` parts of
    n // blocks or n // blocks + 1 samples. The same for every model probed on the same n samples,
    so that a block left out is left out of every model's representation at once."""
    if not 2 <= blocks <= n:
        raise CKAInputError(f"probe blocks must be between 2 and the {n} probe samples, got {blocks}")
    assignment = np.empty(n, dtype=np.int64)
    assignment[np.random.default_rng(seed).permutation(n)] = np.arange(n) * blocks // n
    return assignment


def _squared_norms_without_blocks(F: np.ndarray, G: np.ndarray, blocks: np.ndarray, count: int) -> np.ndarray:
    """||F_S'^T G_S'||_F^2 on the samples S outside each block, F_S' and G_S' re-centred over S. The
    factors are centred over all n samples and stay linear maps of the centred representations, so
    with C = F^T G, P_j = F_j^T G_j (block j's rows) and the means m over S:
    F_S'^T G_S' = C - P_j - |S| m_F m_G^T, whose squared norm expands into ||C||^2, ||P_j||^2 (from
    the block's small Grams), <C, P_j> = sum over the block's rows of (F C)_i . g_i, and terms in
    m: one more product (F C) for all blocks together, and no r_a x r_b matrix per block."""
    cross = F.T @ G
    rows_times_cross = F @ cross
    whole = float(np.einsum("ij,ij->", cross, cross))
    sum_f, sum_g = F.sum(axis=0), G.sum(axis=0)
    values = np.empty(count)
    for block in range(count):
        rows = blocks == block
        Fj, Gj = F[rows], G[rows]
        kept = len(blocks) - int(rows.sum())
        mean_f, mean_g = (sum_f - Fj.sum(axis=0)) / kept, (sum_g - Gj.sum(axis=0)) / kept
        with_block = float(np.einsum("ij,ij->", rows_times_cross[rows], Gj))
        block_squared = float(np.einsum("ij,ij->", Fj @ Fj.T, Gj @ Gj.T))
        with_means = float(mean_f @ cross @ mean_g)
        block_with_means = float((Fj @ mean_f) @ (Gj @ mean_g))
        means_squared = float((mean_f @ mean_f) * (mean_g @ mean_g))
        values[block] = (
            whole
            + block_squared
            + kept**2 * means_squared
            - 2 * with_block
            - 2 * kept * with_means
            + 2 * kept * block_with_means
        )
    return values


def _linear_without_blocks(
    operands: Sequence[LinearOperand], pairs: Sequence[tuple[int, int]], blocks: np.ndarray, count: int
) -> np.ndarray:
    """Linear CKA on the samples outside each block: ||F'^T G'||^2 / (||F'^T F'|| ||G'^T G'||), each
    term from `_squared_norms_without_blocks`: six products of the factors' sizes per pair (n r_a r_b,
    n r_a^2, n r_b^2, each twice), whatever the number of blocks; an operand's own terms once."""
    own = {
        index: _squared_norms_without_blocks(operands[index].factor, operands[index].factor, blocks, count)
        for index in sorted({index for pair in pairs for index in pair})
    }
    columns = [
        _squared_norms_without_blocks(operands[i].factor, operands[j].factor, blocks, count) / np.sqrt(own[i] * own[j])
        for i, j in pairs
    ]
    return np.stack(columns, axis=1)


def _hsic1_without_each_block(first: np.ndarray, second: np.ndarray, weights: np.ndarray, scales) -> np.ndarray:
    """HSIC_1 of one batch's diagonal-zeroed Grams restricted to the rows each row of `weights` (0/1,
    blocks x batch size) keeps; `scales`: _hsic1_scales of the kept counts. The kept sub-Grams' row
    sums are (Gram @ w) at the kept rows, so nothing is copied."""
    first_rows, second_rows = weights @ first, weights @ second
    trace = np.einsum("jb,bc,jc->j", weights, first * second, weights)
    totals = (first_rows * weights).sum(axis=1) * (second_rows * weights).sum(axis=1)
    row_sums = (first_rows * second_rows * weights).sum(axis=1)
    with np.errstate(invalid="ignore"):
        return scales[0] * (trace + scales[1] * totals - scales[2] * row_sums)


def _minibatch_without_blocks(a: MinibatchOperand, b: MinibatchOperand, blocks: np.ndarray, count: int) -> np.ndarray:
    """Minibatch CKA on the samples outside each block: every batch keeps its rows outside the block
    (b' of them, HSIC_1 with its own b'), and a batch left with fewer than 4 rows is left out."""
    k, size = a.grams.shape[:2]
    members = np.random.default_rng(a.seed).permutation(a.n)[: k * size].reshape(k, size)
    sums = np.zeros((3, count))  # mean HSIC_1 (K, L), (K, K), (L, L) over the kept batches
    batches = np.zeros(count)
    for K, L, rows in zip(a.grams, b.grams, members):
        weights = (blocks[rows][None, :] != np.arange(count)[:, None]).astype(np.float64)  # count x size
        kept = weights.sum(axis=1)
        usable = kept >= MIN_BATCH_SIZE
        with np.errstate(divide="ignore", invalid="ignore"):
            scales = _hsic1_scales(kept)
        for row, (first, second) in enumerate(((K, L), (K, K), (L, L))):
            sums[row] += np.where(usable, _hsic1_without_each_block(first, second, weights, scales), 0.0)
        batches += usable
    with np.errstate(divide="ignore", invalid="ignore"):
        cross, self_a, self_b = sums / batches
        return cross / np.sqrt(self_a * self_b)


def cka_without_blocks_of_pairs(
    operands: Sequence[Operand], pairs: Sequence[tuple[int, int]], blocks: np.ndarray
) -> np.ndarray:
    """`cka_without_blocks` of each pair (i, j) of `operands`: a blocks x pairs array, each operand's
    own left-out terms computed once however many pairs it is in."""
    _check_compatible(operands, operands)
    blocks = np.asarray(blocks)
    if blocks.shape != (operands[0].n,):
        raise CKAInputError(f"blocks must give one block per probe sample ({operands[0].n}), got shape {blocks.shape}")
    count = int(blocks.max()) + 1
    if not pairs:
        return np.empty((count, 0))
    if operands[0].estimator == "linear":
        return _linear_without_blocks(operands, pairs, blocks, count)
    return np.stack([_minibatch_without_blocks(operands[i], operands[j], blocks, count) for i, j in pairs], axis=1)


def cka_without_blocks(a: Operand, b: Operand, blocks: np.ndarray) -> np.ndarray:
    """CKA of two prepared operands recomputed with each probe block's samples left out of both
    (`blocks`: each sample's block, from `probe_blocks`): one value per block, the replicates of a
    delete-a-block jackknife over probe samples. NaN for a block that leaves no usable batch."""
    return cka_without_blocks_of_pairs([a, b], [(0, 1)], blocks)[:, 0]


def permutation_mean(operand: LinearOperand) -> float:
    """The mean of linear CKA(X, P X) over all n! permutations P of X's samples: what a layer gives
    against itself when the samples are unrelated one to one. With K the centred Gram of X, CKA(X, PX)
    = <K, P K P^T>_F / ||K||_F^2, and averaging K_ij K_{pi(i) pi(j)} over uniform pi gives, for the
    diagonal, tr(K)^2 / n and, off it, (1^T K 1 - tr K)^2 / (n (n - 1)) with 1^T K 1 = 0 (K is
    centred): tr(K)^2 / ((n - 1) ||K||_F^2), where tr(K) = ||F||_F^2 and ||K||_F is the self term."""
    trace = float(np.einsum("ij,ij->", operand.factor, operand.factor))
    return trace * trace / ((operand.n - 1) * operand.self_term**2)


def cka(a: Operand, b: Operand) -> float:
    """CKA of two prepared operands (same estimator, n and batching; `CKAInputError` otherwise)."""
    return float(cka_matrix([a], [b])[0, 0])
