"""Every architecture a run can train, by name: the one place that lists them (each is declared by
its module in gmnrep.models.architectures), and the only code that tells them apart by name.

An accuracy-matched image network (gmnrep.models.matching) is an architecture of its own, named after
the network it trains with MATCHED_SUFFIX ("mlpmatch"): model ids are split on "-", so no name has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gmnrep.models.architectures import (
    IMAGE,
    WEIGHT_SPACE,
    Architecture,
    cnn,
    flatmlp,
    gmn,
    mlp,
    nfnnp,
    scalegmn,
    statnn,
)

# In the order tables, figures and claims show them: weight-space networks first.
ARCHITECTURES: dict[str, Architecture] = {
    module.ARCHITECTURE.name: module.ARCHITECTURE for module in (gmn, scalegmn, nfnnp, statnn, flatmlp, mlp, cnn)
}
MATCHED_SUFFIX = "match"

if TYPE_CHECKING:
    from torch import nn


def matched_arch(name: str) -> str:
    """The name of image network `name`'s accuracy-matched twin: 'mlp' -> 'mlpmatch'."""
    return name + MATCHED_SUFFIX


def is_matched(name: str) -> bool:
    return name.endswith(MATCHED_SUFFIX) and name.removesuffix(MATCHED_SUFFIX) in image_archs()


def network_arch(name: str) -> str:
    """The network an architecture trains: 'mlpmatch' -> 'mlp', 'gmn' -> 'gmn'."""
    return name.removesuffix(MATCHED_SUFFIX) if is_matched(name) else name


def get(name: str) -> Architecture:
    """The declaration of `name`, or of the network a matched twin trains; ValueError if unknown."""
    spec = ARCHITECTURES.get(network_arch(name))
    if spec is None:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)} (and their matched twins)")
    return spec


def names(family: str | None = None) -> tuple[str, ...]:
    """The registered architectures (of `family`: WEIGHT_SPACE or IMAGE), in display order."""
    return tuple(name for name, spec in ARCHITECTURES.items() if family in (None, spec.family))


def weight_space_archs() -> tuple[str, ...]:
    return names(WEIGHT_SPACE)


def image_archs() -> tuple[str, ...]:
    return names(IMAGE)


def matched_archs() -> tuple[str, ...]:
    """Every possible matched twin: one per image network."""
    return tuple(matched_arch(name) for name in image_archs())


def display_order() -> tuple[str, ...]:
    """Every architecture name a record can carry, in the order tables and figures list them."""
    return (*names(), *matched_archs())


def title(name: str) -> str:
    """'gmn' -> 'GMN', 'mlpmatch' -> 'MLP (matched)'."""
    base = get(name).title
    return f"{base} (matched)" if is_matched(name) else base


def plural(name: str) -> str:
    """'mlp' -> 'MLPs', 'mlpmatch' -> 'MLPs (matched)'."""
    base = get(name).title + "s"
    return f"{base} (matched)" if is_matched(name) else base


def build(name: str, kwargs: dict) -> nn.Module:
    """A fresh model of `name` from its constructor arguments (a matched twin is its network's)."""
    return get(name).network()(**kwargs)
