"""What an INR draws: the image its weights hold, on the pixel grid of the image it was fitted to,
as the figures show it beside that image (the INR figure; Figure 4)."""

import json
from pathlib import Path

import numpy as np
import torch

from gmnrep.core.errors import DataError
from gmnrep.inr import shards, siren


def shard_recipe(path: Path, attrs: dict) -> siren.SirenRecipe:
    """The SIREN recipe a shard was fitted with, from the recipe.* attrs that shard_fitting.fit_shard writes."""
    values = {key.removeprefix("recipe."): value for key, value in attrs.items() if key.startswith("recipe.")}
    try:
        for sequence in ("hidden", "target_range"):  # h5io stores sequences as JSON text
            values[sequence] = json.loads(values[sequence])
        return siren.SirenRecipe.from_config(values)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: the recipe attributes are missing or unreadable ({exc!r})") from None


def to_pixels(outputs: np.ndarray, recipe: siren.SirenRecipe) -> np.ndarray:
    """INR outputs in the recipe's target range -> uint8 pixels (the inverse of siren.image_targets)."""
    low, high = recipe.target_range
    return np.clip(np.rint((outputs - low) / (high - low) * 255), 0, 255).astype(np.uint8)


@torch.no_grad()
def inr_reconstructions(shard_paths: list[Path], image_indices, height: int, width: int) -> dict[int, np.ndarray]:
    """The images (H, W[, C]) uint8 that the INRs of `image_indices` draw on the pixel grid."""
    wanted = {int(i) for i in image_indices}
    found = {}
    for path in shard_paths:
        if wanted <= found.keys():
            break
        shard = shards.read(path)
        rows = [row for row, index in enumerate(shard.image_index.tolist()) if index in wanted]
        if not rows:
            continue
        recipe = shard_recipe(path, shard.attrs)
        params = [(torch.from_numpy(w[rows]), torch.from_numpy(b[rows])) for w, b in shard.weights]
        outputs = siren.forward(params, siren.coordinate_grid(height, width, order=recipe.coordinates), recipe).numpy()
        images = to_pixels(outputs, recipe).reshape(len(rows), height, width, -1)
        for row, image in zip(rows, images):
            found[int(shard.image_index[row])] = image[..., 0] if image.shape[-1] == 1 else image
    missing = sorted(wanted - found.keys())
    if missing:
        where = ", ".join(map(str, shard_paths))
        raise DataError(f"{where}: no INR of image(s) {', '.join(map(str, missing))} in these shards")
    return found
