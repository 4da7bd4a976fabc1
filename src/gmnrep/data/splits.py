"""Train / validation / test assignment of a dataset's images, and seeded subsets of it.

Images are ordered official-train first, then official-test. Validation is a seeded draw
from the official train set; a dataset with no official test set (digits) draws its test
set first from the same seeded permutation.
"""

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = {"train": TRAIN, "val": VAL, "test": TEST}


def split_sizes(
    num_official_train: int, num_official_test: int, validation_size: int, test_size: int
) -> dict[str, int]:
    """Sizes that assign_splits produces; known before any data is read, so the DAG can be sized."""
    drawn_test = test_size if num_official_test == 0 else 0
    if validation_size + drawn_test >= num_official_train:
        raise ValueError(
            f"validation ({validation_size}) and test ({drawn_test}) sizes leave no training images "
            f"out of {num_official_train}"
        )
    return {
        "train": num_official_train - validation_size - drawn_test,
        "val": validation_size,
        "test": num_official_test or drawn_test,
    }


def assign_splits(
    num_official_train: int, num_official_test: int, validation_size: int, test_size: int, seed: int
) -> np.ndarray:
    """uint8 split code per image (0 train, 1 val, 2 test); `test_size` is used only without an official test set."""
    sizes = split_sizes(num_official_train, num_official_test, validation_size, test_size)
    split = np.full(num_official_train + num_official_test, TRAIN, dtype=np.uint8)
    split[num_official_train:] = TEST
    order = np.random.default_rng(seed).permutation(num_official_train)
    drawn_test = 0 if num_official_test else sizes["test"]
    split[order[:drawn_test]] = TEST
    split[order[drawn_test : drawn_test + validation_size]] = VAL
    return split


def subset_sizes(sizes: dict[str, int], limits: dict[str, int | None] | None) -> dict[str, int]:
    limits = limits or {}
    return {name: min(n, limits[name]) if limits.get(name) is not None else n for name, n in sizes.items()}


def select_subset(split: np.ndarray, limits: dict[str, int | None] | None, seed: int) -> np.ndarray:
    """Sorted image indices: per split, all of it or a seeded draw of at most limits[name] images."""
    rng = np.random.default_rng(seed)
    chosen = []
    for name, code in SPLIT_NAMES.items():
        members = np.flatnonzero(split == code)
        limit = (limits or {}).get(name)
        if limit is not None and limit < len(members):
            members = rng.choice(members, size=limit, replace=False)
        chosen.append(members)
    return np.sort(np.concatenate(chosen))
