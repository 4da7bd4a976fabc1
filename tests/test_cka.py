import h5py
import numpy as np
import pytest
import torch

from gmnrep.core.errors import DataError, GmnrepError
from gmnrep.representations import cka

# ---------------------------------------------------------------------------------------------
# Independent textbook implementations (Gram matrices and explicit centring matrices, no shortcuts)


def textbook_hsic(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def textbook_linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    K, L = X @ X.T, Y @ Y.T
    return textbook_hsic(K, L) / np.sqrt(textbook_hsic(K, K) * textbook_hsic(L, L))


def textbook_hsic1(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. 2012's unbiased estimator, term by term."""
    n = K.shape[0]
    Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    one = np.ones(n)
    trace_term = np.trace(Kt @ Lt)
    total_term = (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
    row_sum_term = 2 / (n - 2) * (one @ Kt @ Lt @ one)
    return (trace_term + total_term - row_sum_term) / (n * (n - 3))


def textbook_minibatch_cka(X: np.ndarray, Y: np.ndarray, batch_size: int, seed: int) -> float:
    """The documented batching: a default_rng(seed) permutation cut into n // batch_size batches."""
    k = X.shape[0] // batch_size
    batches = np.random.default_rng(seed).permutation(X.shape[0])[: k * batch_size].reshape(k, batch_size)
    xy = xx = yy = 0.0
    for rows in batches:
        K, L = X[rows] @ X[rows].T, Y[rows] @ Y[rows].T
        xy, xx, yy = xy + textbook_hsic1(K, L), xx + textbook_hsic1(K, K), yy + textbook_hsic1(L, L)
    return (xy / k) / np.sqrt((xx / k) * (yy / k))


def related_pair(n: int, d1: int, d2: int, seed: int = 0, noise: float = 1.0):
    """X and a noisy linear function of it, so that CKA is well inside (0, 1); X has a nonzero mean."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d1)) + 3.0
    Y = X @ rng.standard_normal((d1, d2)) + noise * rng.standard_normal((n, d2)) - 1.0
    return X, Y


def random_orthogonal(d: int, seed: int) -> np.ndarray:
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def linear(X, Y):
    return cka.linear_cka(X, Y)


def minibatch(X, Y):
    return cka.minibatch_cka(X, Y, batch_size=10, seed=3)


BOTH = pytest.mark.parametrize("estimate", [linear, minibatch], ids=["linear", "minibatch"])
# (n, d1, d2): widths below and above n (linear) and below and above the batch size of 10 (minibatch)
SHAPES = [(40, 5, 7), (40, 3, 70), (30, 60, 45)]


# ---------------------------------------------------------------------------------------------
# Properties


@BOTH
def test_symmetric_and_one_with_itself(estimate):
    X, Y = related_pair(60, 6, 9)
    assert estimate(X, Y) == pytest.approx(estimate(Y, X), abs=1e-12)
    assert estimate(X, X) == pytest.approx(1.0, abs=1e-12)


@BOTH
def test_invariant_to_orthogonal_maps_and_isotropic_scaling(estimate):
    X, Y = related_pair(60, 6, 9)
    reference = estimate(X, Y)
    assert estimate(X @ random_orthogonal(6, 1), Y @ random_orthogonal(9, 2)) == pytest.approx(reference, abs=1e-10)
    assert estimate(0.01 * X, 250.0 * Y) == pytest.approx(reference, abs=1e-10)


@BOTH
def test_not_invariant_to_a_general_invertible_map(estimate):
    X, Y = related_pair(60, 6, 9)
    stretch = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 30.0]) @ random_orthogonal(6, 4)  # invertible, not orthogonal
    assert abs(estimate(X @ stretch, Y) - estimate(X, Y)) > 0.05
    assert estimate(X @ stretch, X) < 0.9


def test_values_in_range():
    rng = np.random.default_rng(5)
    for n, d1, d2 in [(30, 2, 3), (30, 50, 4), (80, 10, 10)]:
        X, Y = rng.standard_normal((n, d1)), rng.standard_normal((n, d2))  # unrelated: CKA near 0
        assert 0.0 <= cka.linear_cka(X, Y) <= 1.0
        assert -1.0 <= cka.minibatch_cka(X, Y, 10) <= 1.0
    X = rng.standard_normal((80, 5))
    nearly_rotated = X @ random_orthogonal(5, 0) + 0.01 * rng.standard_normal((80, 5))
    assert 0.99 < cka.linear_cka(X, nearly_rotated) <= 1.0 + 1e-12


def test_minibatch_estimate_can_be_negative():
    # Unbiased HSIC can be negative for unrelated features, and so can the estimate (documented).
    rng = np.random.default_rng(0)
    values = [
        cka.minibatch_cka(rng.standard_normal((40, 2)), rng.standard_normal((40, 2)), 10, seed) for seed in range(20)
    ]
    assert min(values) < 0


# ---------------------------------------------------------------------------------------------
# Agreement with the textbook formulas, across forms and with prepared operands


@pytest.mark.parametrize("n, d1, d2", SHAPES)
def test_matches_textbook(n, d1, d2):
    X, Y = related_pair(n, d1, d2)
    assert cka.linear_cka(X, Y) == pytest.approx(textbook_linear_cka(X, Y), abs=1e-8)
    assert cka.minibatch_cka(X, Y, 10, seed=7) == pytest.approx(textbook_minibatch_cka(X, Y, 10, 7), abs=1e-8)


@pytest.mark.parametrize("n, d1, d2", SHAPES)
@pytest.mark.parametrize("form", ["feature", "gram"])
def test_both_forms_agree_with_textbook(monkeypatch, n, d1, d2, form):
    # Each estimator picks the cheaper form for the shapes; force one, whatever the shapes.
    other = "_gram_form_cost" if form == "feature" else "_feature_form_cost"
    monkeypatch.setattr(cka, other, lambda *shape: np.inf)
    X, Y = related_pair(n, d1, d2)
    assert cka.linear_cka(X, Y) == pytest.approx(textbook_linear_cka(X, Y), abs=1e-8)
    assert cka.minibatch_cka(X, Y, 10, seed=7) == pytest.approx(textbook_minibatch_cka(X, Y, 10, 7), abs=1e-8)


@pytest.mark.parametrize("n, d1, d2", SHAPES)
def test_prepared_operands_give_the_same_value(n, d1, d2):
    X, Y = related_pair(n, d1, d2)
    assert cka.cka(cka.prepare(X), cka.prepare(Y)) == pytest.approx(cka.linear_cka(X, Y), abs=1e-10)
    a, b = cka.prepare(X, "minibatch", 10, seed=7), cka.prepare(Y, "minibatch", 10, seed=7)
    assert cka.cka(a, b) == pytest.approx(cka.minibatch_cka(X, Y, 10, seed=7), abs=1e-10)


def test_wide_factor_is_exact():
    X, Y = related_pair(30, 80, 50)
    factor = cka.prepare(X).factor
    centred = X - X.mean(axis=0)
    assert factor.shape == (30, 30)  # the centred Gram has rank n - 1: the Cholesky route
    np.testing.assert_allclose(factor @ factor.T, centred @ centred.T, atol=1e-9 * np.abs(centred @ centred.T).max())
    assert cka.cka(cka.prepare(X), cka.prepare(Y)) == pytest.approx(textbook_linear_cka(X, Y), abs=1e-10)


def test_wide_rank_deficient_factor_drops_null_directions():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 100))  # d > n, rank 4
    Y = X[:, :30] + 0.5 * rng.standard_normal((40, 30))
    operand = cka.prepare(X)
    assert operand.factor.shape == (40, 4)
    assert cka.cka(operand, cka.prepare(Y)) == pytest.approx(textbook_linear_cka(X, Y), abs=1e-10)
    assert cka.linear_cka(X, Y) == pytest.approx(textbook_linear_cka(X, Y), abs=1e-10)


def test_cka_matrix_equals_pairwise_values():
    rng = np.random.default_rng(3)
    a_layers = [rng.standard_normal((50, d)) for d in (3, 20, 70)]
    b_layers = [
        a_layers[1] @ rng.standard_normal((20, 8)) + rng.standard_normal((50, 8)),
        rng.standard_normal((50, 60)),
    ]
    for estimator, batch_size in [("linear", None), ("minibatch", 10)]:
        a_ops = [cka.prepare(X, estimator, batch_size) for X in a_layers]
        b_ops = [cka.prepare(Y, estimator, batch_size) for Y in b_layers]
        matrix = cka.cka_matrix(a_ops, b_ops)
        assert matrix.shape == (3, 2)
        for i, j in np.ndindex(matrix.shape):
            assert matrix[i, j] == pytest.approx(cka.cka(a_ops[i], b_ops[j]), abs=1e-12)


def test_reproduces_the_published_demo():
    # Kornblith's demo (google-research/representation_similarity/Demo.ipynb) prints 0.55761 for
    # linear CKA and 0.51346 for the debiased form; its data come from numpy's legacy generator,
    # whose stream is frozen. Debiased CKA on all 100 samples is minibatch CKA with one batch of
    # 100 (HSIC_1 does not depend on the order of the samples, so neither does the seed).
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    assert cka.linear_cka(X, Y) == pytest.approx(0.55761, abs=5e-6)
    assert cka.minibatch_cka(X, Y, batch_size=100) == pytest.approx(0.51346, abs=5e-6)


# ---------------------------------------------------------------------------------------------
# Minibatching


def test_minibatch_is_deterministic_and_seed_dependent():
    X, Y = related_pair(200, 5, 6)
    first = cka.minibatch_cka(X, Y, 20, seed=11)
    assert cka.minibatch_cka(X, Y, 20, seed=11) == first
    other = cka.minibatch_cka(X, Y, 20, seed=12)
    assert other != first and abs(other - first) < 0.1


def test_minibatch_remainder_is_dropped():
    X, Y = related_pair(103, 4, 5)
    value = cka.minibatch_cka(X, Y, 10, seed=1)
    dropped = np.random.default_rng(1).permutation(103)[100:]  # the last 3 rows of the permutation
    X2, Y2 = X.copy(), Y.copy()
    X2[dropped], Y2[dropped] = 1e3, -7.0
    assert cka.minibatch_cka(X2, Y2, 10, seed=1) == pytest.approx(value, abs=1e-12)
    assert cka.prepare(X, "minibatch", 10, seed=1).grams.shape == (10, 10, 10)
    assert value == pytest.approx(textbook_minibatch_cka(X, Y, 10, 1), abs=1e-8)


def test_minibatch_converges_to_full_linear_cka():
    # Gaussian X (6 features), Y = X A + noise: population CKA = ||A||_F^2 / (sqrt(6) ||A^T A + I||_F)
    # = 0.6901. Over 40 data seeds, the minibatch estimate (batches of 100 of n = 20000) minus full
    # linear CKA had sd 6.5e-4 (largest 1.5e-3) and each minus the population value sd 2.4e-3.
    # Tolerances of 5e-3 and 1.2e-2 are ~8 and 5 sd, yet fail for biased HSIC per batch (+1.3e-2,
    # +1.9e-2 here).
    A = np.random.default_rng(123).standard_normal((6, 6))
    population = np.sum(A * A) / (np.sqrt(6) * np.linalg.norm(A.T @ A + np.eye(6)))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 6))
    Y = X @ A + rng.standard_normal((20000, 6))
    estimate = cka.minibatch_cka(X, Y, batch_size=100)
    assert estimate == pytest.approx(cka.linear_cka(X, Y), abs=5e-3)
    assert estimate == pytest.approx(population, abs=1.2e-2)


@pytest.mark.parametrize("batch_size", [0, 3])
def test_batch_size_below_four_is_refused(batch_size):
    X, Y = related_pair(20, 2, 2)
    with pytest.raises(ValueError, match=r"batch_size.*b\(b-3\)"):
        cka.minibatch_cka(X, Y, batch_size)
    with pytest.raises(cka.CKAInputError, match="batch_size"):
        cka.prepare(X, "minibatch", batch_size)


def test_fewer_samples_than_a_batch_is_refused():
    X, Y = related_pair(20, 2, 2)
    with pytest.raises(cka.CKAInputError, match="20 samples, fewer than one minibatch of batch_size 21"):
        cka.minibatch_cka(X, Y, 21)
    assert np.isfinite(cka.minibatch_cka(X, Y, 20))


def test_estimator_arguments_are_checked():
    X = related_pair(20, 2, 2)[0]
    with pytest.raises(cka.CKAInputError, match="needs batch_size"):
        cka.prepare(X, "minibatch")
    with pytest.raises(cka.CKAInputError, match="minibatch estimator only"):
        cka.prepare(X, "linear", batch_size=10)
    with pytest.raises(cka.CKAInputError, match="estimator must be one of"):
        cka.prepare(X, "rbf")


# ---------------------------------------------------------------------------------------------
# Degenerate and invalid inputs


def test_constant_columns_are_left_out():
    X, Y = related_pair(50, 4, 30)
    X_padded = np.hstack([np.full((50, 1), 7.0), X, np.zeros((50, 2))])
    Y_padded = np.hstack([Y[:, :10], np.full((50, 3), -2.5), Y[:, 10:]])
    for estimate in (linear, minibatch):
        value = estimate(X_padded, Y_padded)
        assert np.isfinite(value) and value == pytest.approx(estimate(X, Y), abs=1e-12)
    assert cka.cka(cka.prepare(X_padded), cka.prepare(Y_padded)) == pytest.approx(cka.linear_cka(X, Y), abs=1e-12)
    assert cka.prepare(X_padded).factor.shape == (50, 4)


def test_all_constant_features_are_refused():
    X = related_pair(20, 3, 3)[0]
    constant = np.full((20, 4), 0.3)
    for call in (
        lambda: cka.linear_cka(X, constant),
        lambda: cka.minibatch_cka(constant, X, 5),
        lambda: cka.prepare(constant),
        lambda: cka.prepare(constant, "minibatch", 5),
    ):
        with pytest.raises(cka.DegenerateCKAError, match="constant.*CKA is undefined"):
            call()
    assert issubclass(cka.DegenerateCKAError, GmnrepError) and issubclass(cka.DegenerateCKAError, ValueError)


@pytest.mark.parametrize(
    "X, Y, message",
    [
        (np.ones(10), np.ones((10, 2)), "X must be 2-D"),
        (np.ones((10, 2)), np.ones((10, 2, 1)), "Y must be 2-D"),
        (np.arange(20.0).reshape(10, 2), np.arange(22.0).reshape(11, 2), "X has 10 rows, Y 11"),
        (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), np.eye(3), "X has 1 non-finite"),
        (np.eye(3), np.array([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]]), "Y has 1 non-finite"),
    ],
)
def test_invalid_inputs_are_refused(X, Y, message):
    with pytest.raises(cka.CKAInputError, match=message):
        cka.linear_cka(X, Y)


def test_operands_of_different_kinds_are_not_paired():
    X, Y = related_pair(40, 3, 4)
    mismatched = [
        (cka.prepare(X), cka.prepare(Y, "minibatch", 10)),
        (cka.prepare(X), cka.prepare(Y[:30])),
        (cka.prepare(X, "minibatch", 10), cka.prepare(Y, "minibatch", 8)),
        (cka.prepare(X, "minibatch", 10, seed=0), cka.prepare(Y, "minibatch", 10, seed=1)),
    ]
    for a, b in mismatched:
        with pytest.raises(cka.CKAInputError, match="same estimator, number of samples"):
            cka.cka(a, b)
        with pytest.raises(cka.CKAInputError, match="same estimator, number of samples"):
            cka.cka_matrix([a, a], [a, b])
    with pytest.raises(cka.CKAInputError, match="at least one operand"):
        cka.cka_matrix([], [cka.prepare(X)])


# ---------------------------------------------------------------------------------------------
# Inputs and storage


def test_torch_tensors_equal_numpy_arrays():
    X, Y = related_pair(40, 3, 50)
    X32 = torch.tensor(X, dtype=torch.float32)
    assert cka.linear_cka(torch.from_numpy(X), torch.from_numpy(Y)) == cka.linear_cka(X, Y)
    assert cka.linear_cka(X32, Y) == cka.linear_cka(X32.numpy().astype(np.float64), Y)
    assert cka.minibatch_cka(torch.from_numpy(X), Y, 10) == cka.minibatch_cka(X, Y, 10)
    X16 = torch.from_numpy(X).to(torch.bfloat16)
    assert cka.linear_cka(X16, Y) == cka.linear_cka(X16.double().numpy(), Y)
    assert cka.cka(cka.prepare(X32.requires_grad_()), cka.prepare(torch.from_numpy(Y))) == cka.cka(
        cka.prepare(X32.detach().numpy()), cka.prepare(Y)
    )


@pytest.mark.parametrize("estimator, batch_size", [("linear", None), ("minibatch", 10)])
def test_operands_round_trip_through_hdf5(tmp_path, estimator, batch_size):
    X, Y = related_pair(45, 3, 60)
    operands = [cka.prepare(Z, estimator, batch_size, seed=2) for Z in (X, Y)]
    path = tmp_path / "operands.h5"
    with h5py.File(path, "w") as f:
        for name, operand in zip("xy", operands):
            for key, array in operand.to_arrays().items():
                assert isinstance(array, np.ndarray)
                f.create_dataset(f"{name}/{key}", data=array)
    with h5py.File(path, "r") as f:
        loaded = [cka.Operand.from_arrays({key: f[name][key][()] for key in f[name]}) for name in "xy"]
    for before, after in zip(operands, loaded):
        assert type(after) is type(before)
        for key, array in before.to_arrays().items():
            np.testing.assert_array_equal(after.to_arrays()[key], array)
    assert cka.cka(*loaded) == cka.cka(*operands)
    if estimator == "minibatch":
        assert loaded[0].self_term == operands[0].self_term
        np.testing.assert_array_equal(loaded[0].row_sums, operands[0].row_sums)


def test_from_arrays_refuses_what_does_not_fit():
    arrays = cka.prepare(related_pair(20, 2, 2)[0], "minibatch", 5).to_arrays()
    assert type(cka.Operand.from_arrays({**arrays, "estimator": "minibatch"})) is cka.MinibatchOperand
    for broken, message in [
        ({k: v for k, v in arrays.items() if k != "estimator"}, "lack 'estimator'"),
        ({**arrays, "estimator": np.array(b"rbf")}, "unknown estimator 'rbf'"),
        ({k: v for k, v in arrays.items() if k != "seed"}, "lack seed"),
        ({**arrays, "grams": arrays["grams"][:, :, :4]}, "expected grams k x b x b"),
        ({**arrays, "n": np.asarray(3)}, "k \\* b <= n"),
        ({"estimator": np.array(b"linear"), "factor": np.ones(5), "self_term": np.asarray(1.0)}, "2-D factor"),
    ]:
        with pytest.raises(DataError, match=message):
            cka.Operand.from_arrays(broken)


# --- CKA with each block of probe samples left out (the claims' probe-sample uncertainty) ---------


def test_probe_blocks_partition_the_samples_into_near_equal_seeded_blocks():
    blocks = cka.probe_blocks(103, 20, seed=4)
    assert sorted(set(np.bincount(blocks))) == [5, 6] and len(blocks) == 103
    assert np.array_equal(blocks, cka.probe_blocks(103, 20, seed=4))
    assert not np.array_equal(blocks, cka.probe_blocks(103, 20, seed=5))
    with pytest.raises(cka.CKAInputError, match="between 2 and the 10 probe samples"):
        cka.probe_blocks(10, 11, seed=0)


@pytest.mark.parametrize("widths", [(5, 7), (5, 80), (80, 90)])  # factors: centred X, or from the Gram
def test_linear_cka_without_each_block_equals_recomputing_it_on_the_other_samples(widths):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, widths[0]))
    Y = X @ rng.normal(size=(widths[0], widths[1])) + rng.normal(size=(60, widths[1]))
    blocks = cka.probe_blocks(60, 6, seed=0)
    expected = [cka.linear_cka(X[blocks != j], Y[blocks != j]) for j in range(6)]
    assert cka.cka_without_blocks(cka.prepare(X), cka.prepare(Y), blocks) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("batch_size", [10, 13, 60])
def test_minibatch_cka_without_each_block_drops_its_rows_from_every_batch(batch_size):
    """Each batch keeps its rows outside the block and is a batch of that size (HSIC_1 with its own
    b'); with one batch of all samples this is debiased CKA on the other samples."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    Y = X @ rng.normal(size=(4, 6)) + rng.normal(size=(60, 6))
    blocks = cka.probe_blocks(60, 6, seed=0)
    k = 60 // batch_size
    batches = np.random.default_rng(3).permutation(60)[: k * batch_size].reshape(k, batch_size)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    expected = []
    for j in range(6):
        sums = np.zeros(3)
        for rows in batches:
            kept = rows[blocks[rows] != j]
            a, b = cka.prepare(Xc[kept], "minibatch", len(kept)), cka.prepare(Yc[kept], "minibatch", len(kept))
            sums += [cka.cka_matrix([a], [b])[0, 0] * np.sqrt(a.self_term * b.self_term), a.self_term, b.self_term]
        expected.append(sums[0] / np.sqrt(sums[1] * sums[2]))
    got = cka.cka_without_blocks(
        cka.prepare(X, "minibatch", batch_size, 3), cka.prepare(Y, "minibatch", batch_size, 3), blocks
    )
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("estimator", ["linear", "minibatch"])
def test_cka_without_blocks_of_pairs_gives_each_pairs_own_values_bit_for_bit(estimator):
    """Each operand's own terms are computed once for all its pairs, with the same arithmetic."""
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(60, 3))
    batch_size = 20 if estimator == "minibatch" else None
    layers = [latent @ rng.normal(size=(3, 5)) + rng.normal(size=(60, 5)) for _ in range(4)]
    operands = [cka.prepare(layer, estimator, batch_size) for layer in layers]
    blocks = cka.probe_blocks(60, 6, seed=1)
    pairs = [(0, 1), (0, 2), (2, 3), (3, 0)]
    together = cka.cka_without_blocks_of_pairs(operands, pairs, blocks)
    assert together.shape == (6, 4)
    for column, (i, j) in zip(together.T, pairs):
        assert np.array_equal(column, cka.cka_without_blocks(operands[i], operands[j], blocks))
    assert cka.cka_without_blocks_of_pairs(operands, [], blocks).shape == (6, 0)
