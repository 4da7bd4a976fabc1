"""The activation dump file: every representation layer of one model on its dataset's probe samples.

Contract (docs/design.md, Data contracts): `layers/{l}` (N, d_l) float32 for l = 1..L, `image_index` (N,), `label`
(N,), `logits` (N, classes) float32; attrs: dataset, arch, seed, num_layers, probe settings,
the checkpoint it came from. Reading it needs no torch, so CKA and table jobs start quickly.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5, write_h5


@dataclass
class ActivationDump:
    layers: list[np.ndarray]  # layer l at index l - 1
    image_index: np.ndarray
    label: np.ndarray
    logits: np.ndarray
    attrs: dict

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)


def write(path: Path, dump_: ActivationDump) -> None:
    arrays = {f"layers/{number}": layer for number, layer in enumerate(dump_.layers, start=1)}
    arrays.update(image_index=dump_.image_index, label=dump_.label, logits=dump_.logits)
    write_h5(path, arrays, dump_.attrs)


def read(path: Path) -> ActivationDump:
    """Read a dump, refusing one with a missing or misshapen layer, or non-finite values."""
    arrays, attrs = read_h5(path, ("image_index", "label", "logits"))
    try:
        num_layers = int(attrs["num_layers"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: attribute num_layers is missing or unreadable") from None
    layer_arrays, _ = read_h5(path, tuple(f"layers/{number}" for number in range(1, num_layers + 1)))
    n = len(arrays["image_index"])
    layers = []
    for number in range(1, num_layers + 1):
        layer = layer_arrays[f"layers/{number}"]
        if layer.ndim != 2 or layer.shape[0] != n:
            raise DataError(f"{path}: layers/{number} has shape {layer.shape}; expected ({n}, features)")
        if not np.isfinite(layer).all():
            raise DataError(f"{path}: layers/{number} contains NaN or infinite values")
        layers.append(layer)
    if arrays["logits"].shape[0] != n or arrays["label"].shape != (n,):
        raise DataError(f"{path}: logits or label do not have one row per probe sample ({n})")
    return ActivationDump(layers, arrays["image_index"], arrays["label"], arrays["logits"], attrs)
