"""Which trained models are compared with CKA (the paper's pairs).

Within an architecture, each seed with the next one, cyclically: (s_0, s_1), ..., (s_{k-1}, s_0),
five pairs for five seeds. CKA is symmetric, so with two seeds this is one pair, and a single
seed gives none. Across architectures, the models of the same seed. A model is (arch, seed).
"""

from itertools import combinations

Model = tuple[str, int]
Pair = tuple[Model, Model]


def seed_pairs(seeds: list[int]) -> list[tuple[int, int]]:
    if len(seeds) < 2:
        return []
    cyclic = [(seeds[i], seeds[(i + 1) % len(seeds)]) for i in range(len(seeds))]
    unique = []
    for a, b in cyclic:
        if (a, b) not in unique and (b, a) not in unique:
            unique.append((a, b))
    return unique


def model_pairs(architectures: list[str], seeds: list[int]) -> list[Pair]:
    within = [((arch, a), (arch, b)) for arch in architectures for a, b in seed_pairs(seeds)]
    across = [((arch_a, s), (arch_b, s)) for arch_a, arch_b in combinations(architectures, 2) for s in seeds]
    return within + across


def pairing(pair: Pair) -> str:
    """The pairing a model pair belongs to, e.g. 'gmn-gmn' or 'gmn-mlp'."""
    return f"{pair[0][0]}-{pair[1][0]}"


def pair_name(pair: Pair) -> str:
    """File stem of a pair's CKA table: '{arch_a}-{s_a}__{arch_b}-{s_b}'."""
    return "__".join(f"{arch}-{seed}" for arch, seed in pair)
