import numpy as np
import pytest
import torch

from gmnrep.inr import siren
from gmnrep.models.weight_augmentation import WeightAugmentation, fold_affine


def inr_weights(recipe, n=3):
    return siren.init_params(recipe, 1, seed=0, image_indices=range(n), dtype=torch.float64)


def test_folded_affine_map_is_the_inr_at_mapped_coordinates(dwsnets_recipe):
    weights = [(w * 20, b + 0.1) for w, b in inr_weights(dwsnets_recipe)]  # spread, as fitted INRs
    augmentation = WeightAugmentation(rotation_deg=30.0, scale=0.2, translation=0.2)
    affine, shift = augmentation.draw_affine(3, torch.Generator().manual_seed(0))
    coords = siren.coordinate_grid(7, 5, torch.float64)
    mapped = torch.einsum("nij,pj->npi", affine, coords) + shift[:, None]
    want = torch.cat(
        [siren.forward([(w[i : i + 1], b[i : i + 1]) for w, b in weights], mapped[i], dwsnets_recipe) for i in range(3)]
    )
    got = siren.forward(fold_affine(weights, affine, shift), coords, dwsnets_recipe)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert (got - siren.forward(weights, coords, dwsnets_recipe)).abs().max() > 1e-3  # a different image


def test_affine_draws_stay_within_their_bounds():
    affine, shift = WeightAugmentation(rotation_deg=10.0, scale=0.1, translation=0.05).draw_affine(
        500, torch.Generator().manual_seed(1)
    )
    factor = torch.linalg.det(affine).sqrt()
    angle = torch.atan2(affine[:, 1, 0], affine[:, 0, 0])
    assert 0.9 <= factor.min() and factor.max() <= 1.1 and factor.max() > 1.09
    assert angle.abs().max() <= np.radians(10.0) and angle.abs().max() > np.radians(9.5)
    assert shift.abs().max() <= 0.05


def test_augmentation_is_seeded_and_touches_only_what_it_names(dwsnets_recipe):
    weights = inr_weights(dwsnets_recipe, 4)
    affine_only = WeightAugmentation(rotation_deg=45.0)
    first = affine_only.apply(weights, torch.Generator().manual_seed(3))
    again = affine_only.apply(weights, torch.Generator().manual_seed(3))
    for (w, b), (w2, b2) in zip(first, again):
        assert torch.equal(w, w2) and torch.equal(b, b2)
    assert not torch.equal(first[0][0], weights[0][0])
    assert all(torch.equal(a, b) for pa, pb in zip(first[1:], weights[1:]) for a, b in zip(pa, pb))
    noisy = WeightAugmentation(noise=0.1).apply(weights, torch.Generator().manual_seed(3))
    change = noisy[1][0] - weights[1][0]
    assert change.std().item() == pytest.approx(0.1 * weights[1][0].std().item(), rel=0.1)
    assert WeightAugmentation().apply(weights, torch.Generator()) is weights
