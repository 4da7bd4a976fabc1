import dataclasses

import numpy as np
import pytest
import torch

from gmnrep.inr import siren
from gmnrep.inr.fitting import fit_batch, fit_inrs


def fit_one_at_a_time(image, index, recipe, seed, dtype):
    """Reference: one INR, autograd, torch.optim.Adam, the same early-stop rule."""
    coords = siren.coordinate_grid(*image.shape[:2], dtype, recipe.coordinates)
    targets = siren.image_targets(image[None], recipe, dtype)
    params = [
        (w.clone().requires_grad_(), b.clone().requires_grad_())
        for w, b in siren.init_params(recipe, targets.shape[-1], seed, [index], dtype)
    ]
    optimizer = torch.optim.Adam([t for pair in params for t in pair], lr=recipe.lr)
    for step in range(recipe.max_steps + 1):
        mse = (siren.forward(params, coords, recipe) - targets).pow(2).mean()
        psnr = 10 * torch.log10(recipe.data_range**2 / mse.detach())
        if psnr >= recipe.target_psnr or step == recipe.max_steps:
            return [(w.detach()[0], b.detach()[0]) for w, b in params], float(psnr), step
        optimizer.zero_grad()
        mse.backward()
        optimizer.step()


def test_batched_fitting_equals_one_at_a_time_in_float64(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=300, target_psnr=30.0)
    indices = np.arange(6)
    batched = fit_batch(images[:6], indices, recipe, seed=7, dtype=torch.float64)
    steps = []
    for i in indices:
        weights, psnr, step = fit_one_at_a_time(images[i], int(i), recipe, 7, torch.float64)
        steps.append(step)
        assert batched.steps[i] == step
        assert batched.psnr[i] == pytest.approx(psnr, abs=1e-6)
        for (w, b), (bw, bb) in zip(weights, batched.weights):
            # the shard stores float32: compare at float32 resolution
            np.testing.assert_allclose(bw[i], w.numpy().astype(np.float32), rtol=0, atol=1e-7)
            np.testing.assert_allclose(bb[i], b.numpy().astype(np.float32), rtol=0, atol=1e-7)
    assert min(steps) < recipe.max_steps  # early stopping was exercised...
    assert max(steps) > min(steps)  # ...while others went on


def test_a_converged_inr_stops_changing_while_others_continue(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=400, target_psnr=30.0)
    result = fit_batch(images[:8], np.arange(8), recipe, seed=0)
    first = int(np.argmin(result.steps))
    assert result.steps[first] < result.steps.max()
    # the same INR fitted alone for exactly its step count, with no early stop, ends at the same weights
    alone = fit_batch(
        images[first : first + 1],
        np.array([first]),
        dataclasses.replace(recipe, max_steps=int(result.steps[first]), target_psnr=float("inf")),
        seed=0,
    )
    for (w, b), (aw, ab) in zip(result.weights, alone.weights):
        np.testing.assert_allclose(w[first], aw[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(b[first], ab[0], rtol=0, atol=1e-6)
    assert result.psnr[first] >= recipe.target_psnr


def test_result_does_not_depend_on_the_batch_size(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=40)
    indices = np.arange(10, 20)
    a = fit_inrs(images[indices], indices, recipe, seed=1, batch_size=10)
    b = fit_inrs(images[indices], indices, recipe, seed=1, batch_size=3)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_allclose(a.psnr, b.psnr, atol=1e-4)
    for (w, bias), (w2, bias2) in zip(a.weights, b.weights):
        np.testing.assert_allclose(w, w2, atol=1e-5)
        np.testing.assert_allclose(bias, bias2, atol=1e-5)


def test_fitting_improves_psnr_and_reaches_the_target_on_digits(digits, dwsnets_recipe):
    images, _ = digits
    result = fit_inrs(images[:32], np.arange(32), dwsnets_recipe, seed=0, batch_size=32)
    assert (result.psnr >= 40.0).mean() > 0.9
    assert (result.steps < dwsnets_recipe.max_steps).mean() > 0.9
    assert [w.dtype for w, _ in result.weights] == [np.float32] * 3


def test_a_diverging_fit_stops_with_a_clear_error(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, lr=1e30, max_steps=50)
    with pytest.raises(FloatingPointError, match="non-finite INR loss .* image indices"):
        fit_batch(images[:4], np.arange(100, 104), recipe, seed=0)


@pytest.mark.parametrize("compact_every", [7, 1000])
def test_compacting_every_k_steps_keeps_each_inrs_stop_step_and_weights(digits, dwsnets_recipe, compact_every):
    # what a GPU does (inr_fitting.COMPACT_EVERY_ACCELERATOR): INRs captured at their stop step on the
    # device, taken out of the stack only every k steps; the result must equal compacting every step
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=300, target_psnr=30.0)
    every_step = fit_batch(images[:12], np.arange(12), recipe, seed=3, compact_every=1)
    assert len(set(every_step.steps.tolist())) > 3  # INRs stop at many different steps
    progress = RecordedProgress()
    periodic = fit_batch(images[:12], np.arange(12), recipe, seed=3, compact_every=compact_every, progress=progress)
    # the stack's composition changes which rows share a matrix-product call, which moves float32
    # results by an ulp at most (as another fit_batch_size does), never a stop step
    np.testing.assert_array_equal(periodic.steps, every_step.steps)
    np.testing.assert_allclose(periodic.psnr, every_step.psnr, rtol=0, atol=1e-4)
    for (w, b), (w2, b2) in zip(periodic.weights, every_step.weights):
        np.testing.assert_allclose(w, w2, rtol=0, atol=1e-6)
        np.testing.assert_allclose(b, b2, rtol=0, atol=1e-6)
    assert progress.stopped_inrs() == 12
    # the steps run to the recipe's cap whether or not the last INRs stopped before it
    assert progress.steps() == recipe.max_steps


class RecordedProgress:
    """A FitProgress that keeps what it is told, in order."""

    def __init__(self):
        self.events = []

    def advance(self, steps):
        self.events.append(("advance", steps))

    def stopped(self, inrs):
        self.events.append(("stopped", inrs))

    def steps(self):
        return sum(n for kind, n in self.events if kind == "advance")

    def stopped_inrs(self):
        return sum(n for kind, n in self.events if kind == "stopped")


def test_progress_moves_from_the_first_step_and_reaches_the_cap_when_every_inr_stops_early(digits, dwsnets_recipe):
    # a shard's bar counts optimizer steps: a person sees it move before any INR stops, and a stack
    # whose INRs all stopped early is counted to its cap at once (the bar ends full)
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=400, target_psnr=25.0)
    progress = RecordedProgress()
    result = fit_batch(images[:6], np.arange(6), recipe, seed=3, progress=progress)
    assert result.steps.max() < recipe.max_steps  # every INR stopped early
    assert progress.events[:3] == [("advance", 1)] * 3
    kind, remaining = progress.events[-1]
    assert kind == "advance" and remaining >= recipe.max_steps - result.steps.max() - 1
    assert progress.steps() == recipe.max_steps and progress.stopped_inrs() == 6


def test_chunked_steps_give_the_stacked_steps_numbers(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, max_steps=60)
    whole = fit_batch(images[:10], np.arange(10), recipe, seed=5, chunk=10)
    chunked = fit_batch(images[:10], np.arange(10), recipe, seed=5, chunk=3)
    np.testing.assert_array_equal(chunked.steps, whole.steps)
    np.testing.assert_allclose(chunked.psnr, whole.psnr, rtol=0, atol=1e-4)
    for (w, b), (w2, b2) in zip(chunked.weights, whole.weights):
        np.testing.assert_allclose(w, w2, rtol=0, atol=1e-6)
        np.testing.assert_allclose(b, b2, rtol=0, atol=1e-6)


def test_a_diverging_fit_stops_with_a_clear_error_when_compacting_every_k_steps(digits, dwsnets_recipe):
    images, _ = digits
    recipe = dataclasses.replace(dwsnets_recipe, lr=1e30, max_steps=50)
    with pytest.raises(FloatingPointError, match="non-finite INR loss by step 25 for image indices"):
        fit_batch(images[:4], np.arange(100, 104), recipe, seed=0, compact_every=25)
