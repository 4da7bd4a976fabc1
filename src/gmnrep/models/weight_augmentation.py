"""Weight-space augmentation of SIREN INRs for training a metanetwork, on the fly and seeded.

Each transformation maps the INR of an image to an INR of a transformed image, or perturbs it
slightly, as DWSNets' INR augmentations do (AvivNavon/DWSNets experiments/data.py):
- an affine map of the input coordinates folded into the first layer: the INR x -> f(A x + t)
  has first-layer weights W0 A and biases b0 + W0 t, and represents the image rotated by up to
  `rotation_deg` degrees, scaled by a factor in [1 - scale, 1 + scale] and shifted by up to
  `translation` (coordinates span [-1, 1]) per axis;
- Gaussian noise of std `noise` times each layer's std (over the batch), on weights and biases.
Permutations of hidden neurons are not offered: the GMN is invariant to them.
"""

import math
from dataclasses import dataclass

import torch

from gmnrep.models.param_graph import Weights


@dataclass(frozen=True)
class WeightAugmentation:
    rotation_deg: float = 0.0
    scale: float = 0.0
    translation: float = 0.0
    noise: float = 0.0

    @classmethod
    def from_config(cls, values: dict | None) -> "WeightAugmentation":
        return cls(**(values or {}))

    @property
    def active(self) -> bool:
        return any((self.rotation_deg, self.scale, self.translation, self.noise))

    def apply(self, weights: Weights, generator: torch.Generator) -> Weights:
        """Augmented copies of a batch of INRs; the random draws come from `generator` (CPU)."""
        if not self.active:
            return weights
        w0 = weights[0][0]
        if w0.shape[2] == 2 and (self.rotation_deg or self.scale or self.translation):
            affine, shift = self.draw_affine(w0.shape[0], generator)
            weights = fold_affine(weights, affine.to(w0), shift.to(w0))
        if self.noise:
            # drawn on the CPU in float64, so the draws do not depend on the device or dtype
            weights = [
                tuple(
                    t + self.noise * t.std() * torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t)
                    for t in pair
                )
                for pair in weights
            ]
        return weights

    def draw_affine(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n coordinate maps x -> A x + t: A (n, 2, 2) a rotation times a scale factor, t (n, 2)."""

        def uniform(*shape):
            return torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1

        angle = uniform(n) * math.radians(self.rotation_deg)
        factor = 1 + uniform(n) * self.scale
        cos, sin = angle.cos() * factor, angle.sin() * factor
        affine = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
        return affine, uniform(n, 2) * self.translation


def fold_affine(weights: Weights, affine: torch.Tensor, shift: torch.Tensor) -> Weights:
    """The INRs x -> f(A x + t) of the INRs f in `weights`: first layer W0 A and b0 + W0 t."""
    w0, b0 = weights[0]
    return [(w0 @ affine, b0 + (w0 @ shift[:, :, None])[..., 0]), *weights[1:]]
