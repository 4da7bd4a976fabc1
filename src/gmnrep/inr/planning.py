"""Which images each INR shard holds, known from the configuration alone.

A dataset's selected images (all of them, or a seeded subset per split) are cut, in image order,
into shards of `shard_size`. This module imports no torch, so that Snakemake, which plans the
shards while it parses the workflow (in every cluster job too), starts in a fraction of a second.
"""

import math

import numpy as np

from gmnrep.data import splits


def shards_needed(num_images: int, shard_size: int) -> int:
    return max(1, math.ceil(num_images / shard_size))


def shard_count(split_sizes: dict[str, int], limits: dict | None, shard_size: int) -> int:
    """Number of shards, known from the configuration alone so that the DAG can be built before any data exists."""
    return shards_needed(sum(splits.subset_sizes(split_sizes, limits).values()), shard_size)


def shard_members(selected: np.ndarray, shard: int, shard_size: int) -> np.ndarray:
    return selected[shard * shard_size : (shard + 1) * shard_size]
