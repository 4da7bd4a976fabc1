"""Architecture names shared by every stage. An accuracy-matched image network
(gmnrep.models.matching) is an architecture of its own, named after the network it trains with
MATCHED_SUFFIX ("mlpmatch"): model ids are split on "-", so the name has none.
"""

MATCHED_SUFFIX = "match"


def matched_arch(arch: str) -> str:
    """The name of `arch`'s accuracy-matched twin: 'mlp' -> 'mlpmatch'."""
    return arch + MATCHED_SUFFIX


def is_matched(arch: str) -> bool:
    return arch.endswith(MATCHED_SUFFIX)


def network_arch(arch: str) -> str:
    """The network an architecture trains: 'mlpmatch' -> 'mlp', 'gmn' -> 'gmn'."""
    return arch.removesuffix(MATCHED_SUFFIX)
