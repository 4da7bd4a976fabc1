import dataclasses

import numpy as np
import pytest
import torch

from gmnrep.inr import siren


def test_coordinate_grid_is_row_major_over_minus_one_to_one():
    grid = siren.coordinate_grid(3, 2, torch.float64)
    assert grid.shape == (6, 2)
    assert grid[0].tolist() == [-1.0, -1.0]
    assert grid[1].tolist() == [-1.0, 1.0]  # second column of the first row
    assert grid[2].tolist() == [0.0, -1.0]
    assert grid[-1].tolist() == [1.0, 1.0]
    xy = siren.coordinate_grid(3, 2, torch.float64, order="xy")  # DWSNets: (column, row)
    assert xy[1].tolist() == [1.0, -1.0] and xy[2].tolist() == [-1.0, 0.0]


def test_image_targets_map_0_255_onto_the_recipe_range(dwsnets_recipe):
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    t = siren.image_targets(images, dwsnets_recipe, torch.float64)
    assert t.shape == (1, 4, 1)
    assert t.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4])
    signed = dataclasses.replace(dwsnets_recipe, target_range=(-1.0, 1.0))
    rgb = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    rgb[0, 0, 0] = (0, 255, 128)
    t = siren.image_targets(rgb, signed, torch.float64)
    assert t.shape == (1, 4, 3)
    assert t[0, 0].tolist() == pytest.approx([-1.0, 1.0, 128 / 255 * 2 - 1])


def test_forward_matches_a_hand_computation(dwsnets_recipe):
    rng = np.random.default_rng(1)
    sizes = [2, 3, 4, 1]
    layers = [(rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes[:-1], sizes[1:])]
    coords = np.array([[-1.0, 0.5], [0.25, 1.0]])
    expected = []
    for x in coords:
        h = x
        for w, b in layers[:-1]:
            h = np.sin(dwsnets_recipe.w0 * (w @ h + b))
        expected.append(layers[-1][0] @ h + layers[-1][1] + dwsnets_recipe.output_offset)
    params = [(torch.tensor(w)[None], torch.tensor(b)[None]) for w, b in layers]
    out = siren.forward(params, torch.tensor(coords), dwsnets_recipe)
    np.testing.assert_allclose(out[0].numpy(), np.array(expected), rtol=1e-12)


@pytest.mark.parametrize("init", ["dwsnets", "siren"])
@pytest.mark.parametrize("channels", [1, 3])  # one channel: the last layer's backward is an outer product
def test_hand_written_gradients_equal_autograd(dwsnets_recipe, init, channels):
    recipe = dataclasses.replace(dwsnets_recipe, init=init, hidden=(16, 8, 8))
    params = siren.init_params(recipe, channels, seed=0, image_indices=[0, 1, 2], dtype=torch.float64)
    coords = siren.coordinate_grid(5, 4, torch.float64)
    targets = torch.rand(3, 20, channels, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    leaves = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in params]
    mse_auto = (siren.forward(leaves, coords, recipe) - targets).pow(2).flatten(1).mean(1)
    grads_auto = torch.autograd.grad(mse_auto.sum(), [t for pair in leaves for t in pair])
    layers = siren.augment(params)
    # room for more INRs than the stack holds, and stale values in it: the step must not read them
    buffers = siren.StepBuffers(5, recipe.layer_sizes(channels), 20, torch.float64, "cpu")
    for t in [*buffers.cosines, *buffers.upstream, buffers.pre_activation, buffers.residual]:
        t.fill_(7.0)
    grads = [torch.full_like(a, 7.0) for a in layers]
    inputs = siren.homogeneous_coordinates(coords)
    mse = siren.mse_and_grads(layers, inputs, targets.transpose(1, 2).contiguous(), recipe, buffers, grads)
    torch.testing.assert_close(mse, mse_auto.detach(), rtol=1e-12, atol=1e-14)
    got = [g for pair in siren.split_augmented(grads) for g in pair]
    for got_grad, want in zip(got, grads_auto, strict=True):
        torch.testing.assert_close(got_grad, want, rtol=1e-10, atol=1e-12)


def test_augmented_layers_round_trip_and_compute_the_forward_pass(dwsnets_recipe):
    params = siren.init_params(dwsnets_recipe, 1, seed=0, image_indices=[0, 1], dtype=torch.float64)
    for (w, b), (w2, b2) in zip(params, siren.split_augmented(siren.augment(params)), strict=True):
        assert torch.equal(w, w2) and torch.equal(b, b2)
    coords = siren.coordinate_grid(3, 3, torch.float64)
    inputs = siren.homogeneous_coordinates(coords)
    assert inputs.shape == (3, 9) and torch.equal(inputs[:2], coords.T) and (inputs[2] == 1).all()


def assert_uniform_within(values: torch.Tensor, bound: float):
    """Drawn from U(+-bound): inside it, reaching near both ends, with the uniform's std."""
    assert values.abs().max() <= bound
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert values.std().item() == pytest.approx(bound / np.sqrt(3), rel=0.1)


def test_dwsnets_init_matches_the_dwsnets_inr(dwsnets_recipe):
    """AvivNavon/DWSNets nn/inr.py: sine layers (the first NOT special-cased) U(+-sqrt(6/fan_in)/w0)
    with zero biases; the last layer a torch.nn.Linear with its default init."""
    params = siren.init_params(dwsnets_recipe, 1, seed=0, image_indices=range(200), dtype=torch.float64)
    (w0, b0), (w1, b1), (w2, b2) = params
    assert_uniform_within(w0, np.sqrt(6 / 2) / 30)
    assert_uniform_within(w1, np.sqrt(6 / 32) / 30)
    assert (b0 == 0).all() and (b1 == 0).all()
    assert_uniform_within(w2, 1 / np.sqrt(32))  # +-0.177
    assert_uniform_within(b2, 1 / np.sqrt(32))


def test_siren_init_matches_nfn(dwsnets_recipe):
    """AllanYangZhou/nfn experiments/siren_utils.py (Sitzmann's SIREN, outermost linear): first
    layer U(+-1/fan_in), later layers, the last included, U(+-sqrt(6/fan_in)/w0); biases keep
    torch.nn.Linear's default U(+-1/sqrt(fan_in))."""
    recipe = dataclasses.replace(dwsnets_recipe, init="siren")
    params = siren.init_params(recipe, 3, seed=0, image_indices=range(200), dtype=torch.float64)
    (w0, b0), (w1, b1), (w2, b2) = params
    assert_uniform_within(w0, 1 / 2)
    assert_uniform_within(w1, np.sqrt(6 / 32) / 30)
    assert_uniform_within(w2, np.sqrt(6 / 32) / 30)
    assert_uniform_within(b0, 1 / np.sqrt(2))
    assert_uniform_within(b1, 1 / np.sqrt(32))
    assert_uniform_within(b2, 1 / np.sqrt(32))
    assert w2.shape == (200, 3, 32)


def test_init_depends_only_on_seed_and_image_index(dwsnets_recipe):
    together = siren.init_params(dwsnets_recipe, 1, seed=3, image_indices=[5, 9, 11])
    alone = siren.init_params(dwsnets_recipe, 1, seed=3, image_indices=[9])
    other_seed = siren.init_params(dwsnets_recipe, 1, seed=4, image_indices=[9])
    for (w, b), (w1, b1), (w2, _) in zip(together, alone, other_seed):
        assert torch.equal(w[1], w1[0]) and torch.equal(b[1], b1[0])
        assert not torch.equal(w1, w2)


def test_psnr_uses_the_target_range_as_peak():
    targets = torch.zeros(2, 4, 1)
    outputs = targets + torch.tensor([0.1, 0.01]).view(2, 1, 1)
    assert siren.psnr(outputs, targets, 1.0).tolist() == pytest.approx([20.0, 40.0], abs=1e-4)
    assert siren.psnr(outputs, targets, 2.0).tolist() == pytest.approx([26.0206, 46.0206], abs=1e-3)
