"""Which trained models are compared with CKA (the paper's pairs, and every pair).

Two schemes (config `cka.pairs`):

- ``cyclic`` (the paper's): within an architecture, each seed with the next one, cyclically:
  (s_0, s_1), ..., (s_{k-1}, s_0), five pairs for five seeds (CKA is symmetric, so two seeds give
  one pair and a single seed none); across architectures, the models of the same seed.
- ``all``: every seed pair within an architecture (k (k - 1) / 2) and every pair of seeds across
  two architectures (k^2). It contains the cyclic pairs under the same names, so the figures,
  which show the paper's pairs, and the statistics, which use every pair, share their CKA jobs.

A model is (arch, seed); an accuracy-matched twin is an architecture of its own
(gmnrep.models.registry).
"""

from itertools import combinations

Model = tuple[str, int]
Pair = tuple[Model, Model]
SCHEMES = ("cyclic", "all")


def seed_pairs(seeds: list[int]) -> list[tuple[int, int]]:
    """The cyclic seed pairs, each unordered pair once."""
    if len(seeds) < 2:
        return []
    cyclic = [(seeds[i], seeds[(i + 1) % len(seeds)]) for i in range(len(seeds))]
    return _unique(cyclic)


def _unique(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`pairs` without repeats of an unordered pair, keeping the first orientation seen."""
    unique, seen = [], set()
    for a, b in pairs:
        if frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            unique.append((a, b))
    return unique


def model_pairs(architectures: list[str], seeds: list[int], scheme: str = "cyclic") -> list[Pair]:
    """The compared model pairs: within an architecture first, then across, in `architectures` order."""
    if scheme not in SCHEMES:
        raise ValueError(f"pair scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    within_seeds = seed_pairs(seeds)
    across_seeds = [(s, s) for s in seeds]
    if scheme == "all":
        within_seeds = _unique(within_seeds + list(combinations(seeds, 2)))
        across_seeds += [(a, b) for a in seeds for b in seeds if a != b]
    within = [((arch, a), (arch, b)) for arch in architectures for a, b in within_seeds]
    across = [((arch_a, a), (arch_b, b)) for arch_a, arch_b in combinations(architectures, 2) for a, b in across_seeds]
    return within + across


def pairing(pair: Pair) -> str:
    """The pairing a model pair belongs to, e.g. 'gmn-gmn' or 'gmn-mlp'."""
    return f"{pair[0][0]}-{pair[1][0]}"


def model_id(model: Model) -> str:
    """A model's name in file names and tables: '{arch}-{seed}'."""
    arch, seed = model
    return f"{arch}-{seed}"


def parse_model_id(text: str) -> Model:
    """The (arch, seed) a model id names; ValueError if `text` is not '<arch>-<seed>'."""
    arch, _, seed = text.rpartition("-")
    if not arch or not seed.isdigit():
        raise ValueError(f"model {text!r} is not '<arch>-<seed>'")
    return arch, int(seed)


def pair_name(pair: Pair) -> str:
    """File stem of a pair's CKA table: '{arch_a}-{s_a}__{arch_b}-{s_b}'."""
    return "__".join(model_id(model) for model in pair)
