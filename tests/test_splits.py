"""Train / validation / test assignment and seeded subsets."""

import numpy as np
import pytest

from gmnrep.data import splits
from gmnrep.data.splits import TEST, TRAIN, VAL


def counts(split: np.ndarray) -> dict[str, int]:
    return {name: int((split == code).sum()) for name, code in splits.SPLIT_NAMES.items()}


def test_mnist_like_split():
    split = splits.assign_splits(60000, 10000, 5000, 360, seed=0)
    assert split.dtype == np.uint8 and split.shape == (70000,)
    assert counts(split) == {"train": 55000, "val": 5000, "test": 10000}
    assert (split[60000:] == TEST).all()  # test is exactly the official test set, the last 10000
    assert not (split[:60000] == TEST).any()
    assert (np.flatnonzero(split == VAL) < 60000).all()
    assert set(np.unique(split).tolist()) == {TRAIN, VAL, TEST}


def test_validation_is_a_spread_out_draw():
    split = splits.assign_splits(60000, 10000, 5000, 360, seed=0)
    val = np.flatnonzero(split == VAL)
    # a seeded random draw, not a contiguous block
    assert val.min() < 1000 and val.max() > 59000
    assert not np.array_equal(val, np.arange(val[0], val[0] + 5000))


def test_same_seed_same_split_other_seed_other_validation():
    a = splits.assign_splits(60000, 10000, 5000, 360, seed=3)
    b = splits.assign_splits(60000, 10000, 5000, 360, seed=3)
    c = splits.assign_splits(60000, 10000, 5000, 360, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.flatnonzero(a == VAL), np.flatnonzero(c == VAL))
    np.testing.assert_array_equal(a[60000:], c[60000:])  # the test set does not depend on the seed
    assert counts(c) == counts(a)


def test_digits_split_draws_test_and_validation():
    split = splits.assign_splits(1797, 0, 180, 360, seed=0)
    assert split.shape == (1797,)
    assert counts(split) == {"train": 1257, "val": 180, "test": 360}
    other = splits.assign_splits(1797, 0, 180, 360, seed=1)
    assert not np.array_equal(np.flatnonzero(split == TEST), np.flatnonzero(other == TEST))
    np.testing.assert_array_equal(split, splits.assign_splits(1797, 0, 180, 360, seed=0))


def test_test_size_ignored_with_an_official_test_set():
    a = splits.assign_splits(50000, 10000, 5000, 360, seed=0)
    b = splits.assign_splits(50000, 10000, 5000, 999, seed=0)
    np.testing.assert_array_equal(a, b)
    assert counts(a) == {"train": 45000, "val": 5000, "test": 10000}


@pytest.mark.parametrize(
    "args",
    [(60000, 10000, 5000, 360), (50000, 10000, 5000, 360), (1797, 0, 180, 360), (1797, 0, 0, 1), (100, 5, 0, 7)],
)
def test_split_sizes_agrees_with_assign_splits(args):
    assert splits.split_sizes(*args) == counts(splits.assign_splits(*args, seed=11))


@pytest.mark.parametrize(
    "args",
    [
        (1797, 0, 5000, 360),  # validation alone larger than the data
        (1797, 0, 1437, 360),  # validation + test == all images
        (1000, 10, 1000, 1),  # validation == official train
        (100, 0, 0, 100),  # drawn test takes everything
    ],
)
def test_sizes_leaving_no_training_images_raise(args):
    with pytest.raises(ValueError, match="no training images"):
        splits.split_sizes(*args)
    with pytest.raises(ValueError, match="no training images"):
        splits.assign_splits(*args, seed=0)


def test_one_training_image_left_is_allowed():
    assert splits.split_sizes(1797, 0, 1436, 360) == {"train": 1, "val": 1436, "test": 360}


def test_select_subset_with_limits():
    split = splits.assign_splits(1797, 0, 180, 360, seed=0)
    limits = {"train": 5, "val": 2, "test": 3}
    chosen = splits.select_subset(split, limits, seed=0)
    assert len(chosen) == 10
    assert np.array_equal(chosen, np.sort(chosen)) and len(np.unique(chosen)) == 10
    assert counts(split[chosen]) == limits
    assert counts(split[chosen]) == splits.subset_sizes(splits.split_sizes(1797, 0, 180, 360), limits)
    np.testing.assert_array_equal(chosen, splits.select_subset(split, limits, seed=0))
    assert not np.array_equal(chosen, splits.select_subset(split, limits, seed=1))


def test_select_subset_none_returns_everything():
    split = splits.assign_splits(1797, 0, 180, 360, seed=0)
    everything = np.arange(1797)
    np.testing.assert_array_equal(splits.select_subset(split, None, seed=0), everything)
    np.testing.assert_array_equal(splits.select_subset(split, {}, seed=0), everything)
    np.testing.assert_array_equal(
        splits.select_subset(split, {"train": None, "val": None, "test": None}, seed=5), everything
    )


def test_select_subset_partial_and_oversized_limits():
    split = splits.assign_splits(1797, 0, 180, 360, seed=0)
    limits = {"train": 10, "val": None, "test": 10_000}
    chosen = splits.select_subset(split, limits, seed=2)
    assert counts(split[chosen]) == {"train": 10, "val": 180, "test": 360}
    assert splits.subset_sizes(splits.split_sizes(1797, 0, 180, 360), limits) == {"train": 10, "val": 180, "test": 360}
