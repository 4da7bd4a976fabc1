"""The names the paper's tables and figures use: the datasets and architectures with their titles,
in the paper's order, and the pairings of architectures whose models are compared."""

from itertools import combinations

from gmnrep.core.errors import DataError
from gmnrep.models import registry

DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "digits": "Digits"}
WEIGHT_SPACE_ARCHS = registry.weight_space_archs()  # the networks that see INR weights (GMN, ...)
IMAGE_ARCHS = registry.image_archs()  # the networks that see images
MATCHED_ARCHS = registry.matched_archs()  # their accuracy-matched twins
ARCH_TITLES = {name: registry.title(name) for name in registry.display_order()}  # in display order


def _pairings(archs) -> list[str]:
    """Within each architecture, then across, as gmnrep.representations.pairs.model_pairs orders them."""
    return [f"{a}-{a}" for a in archs] + [f"{a}-{b}" for a, b in combinations(archs, 2)]


# The order tables and figures show pairings in: the paper's (with every weight-space network in
# the GMN's place), then the same with the matched image networks in place of the converged ones
# (the control), then converged against matched networks.
PAPER_PAIRINGS = _pairings((*WEIGHT_SPACE_ARCHS, *IMAGE_ARCHS))
CONTROL_PAIRINGS = [name for name in _pairings((*WEIGHT_SPACE_ARCHS, *MATCHED_ARCHS)) if name not in PAPER_PAIRINGS]
TWIN_PAIRINGS = [f"{a}-{b}" for a in IMAGE_ARCHS for b in MATCHED_ARCHS]
PAIRINGS = PAPER_PAIRINGS + CONTROL_PAIRINGS + TWIN_PAIRINGS


def pairing_title(name: str) -> str:
    """'gmn-mlp' -> 'GMN-MLP'."""
    return "-".join(ARCH_TITLES[arch] for arch in name.split("-"))


def ordered_datasets(*by_dataset: dict) -> list[str]:
    """The datasets that every mapping is keyed by, in the paper's order; DataError if they differ."""
    names = set(by_dataset[0])
    for mapping in by_dataset[1:]:
        if set(mapping) != names:
            raise DataError(f"inputs are given for different datasets: {sorted(names)} and {sorted(mapping)}")
    unknown = sorted(names - set(DATASET_TITLES))
    if unknown:
        raise DataError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(DATASET_TITLES)}")
    return [name for name in DATASET_TITLES if name in names]
