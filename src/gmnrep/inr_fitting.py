"""Fit many SIRENs at once: one stacked tensor program and one Adam over the stack.

Adam is elementwise, so one Adam over stacked weights is exactly one Adam per INR. Each INR
stops at the first step where its PSNR reaches the target: it is taken out of the stack
(weights and optimizer state), so it stops changing while the others go on, and the stack
shrinks as INRs converge.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .siren import Params, SirenRecipe, coordinate_grid, image_targets, init_params, mse_and_grads, psnr_from_mse

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass
class FitResult:
    weights: list[tuple[np.ndarray, np.ndarray]]  # per layer (W (n,out,in), b (n,out)), float32
    psnr: np.ndarray  # (n,) dB at the returned weights
    steps: np.ndarray  # (n,) Adam steps taken


def _adam_step(params: Params, grads, exp_avg, exp_avg_sq, step: int, lr: float) -> None:
    # Same arithmetic as torch.optim.Adam (no weight decay, no amsgrad), so that fitting one
    # INR with torch.optim.Adam and fitting it inside a stack give the same weights.
    beta1, beta2 = ADAM_BETAS
    bias1 = 1 - beta1**step
    bias2_sqrt = (1 - beta2**step) ** 0.5
    for p, g, m, v in zip(params, grads, exp_avg, exp_avg_sq):
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / bias2_sqrt).add_(ADAM_EPS)
        p.addcdiv_(m, denom, value=-lr / bias1)


def _pairs(flat: list[torch.Tensor]) -> Params:
    return list(zip(flat[0::2], flat[1::2]))


def fit_batch(
    images: np.ndarray,
    image_indices: np.ndarray,
    recipe: SirenRecipe,
    seed: int,
    device: str | torch.device = "cpu",
    dtype=torch.float32,
    on_finished: Callable[[int], None] | None = None,
) -> FitResult:
    """Fit one SIREN per image, all in one stack; `on_finished(n)` is told as INRs finish."""
    n = len(images)
    height, width = images.shape[1:3]
    coords = coordinate_grid(height, width, dtype, recipe.coordinates).to(device)
    targets = image_targets(images, recipe, dtype).to(device)
    out_features = targets.shape[-1]
    initial = init_params(recipe, out_features, seed, image_indices, dtype)
    flat = [t.to(device).contiguous() for layer in initial for t in layer]
    exp_avg = [torch.zeros_like(t) for t in flat]
    exp_avg_sq = [torch.zeros_like(t) for t in flat]
    final = [torch.empty_like(t) for t in flat]
    final_psnr = torch.empty(n, dtype=torch.float64, device=device)
    final_steps = torch.empty(n, dtype=torch.int64, device=device)
    active = torch.arange(n, device=device)

    for step in range(recipe.max_steps + 1):
        per_inr_mse, grads = mse_and_grads(_pairs(flat), coords, targets, recipe)
        if not torch.isfinite(per_inr_mse).all():
            bad = image_indices[active[~torch.isfinite(per_inr_mse)].cpu().numpy()]
            raise FloatingPointError(f"non-finite INR loss at step {step} for image indices {bad[:10].tolist()}")
        psnr = psnr_from_mse(per_inr_mse, recipe.data_range)
        done = psnr >= recipe.target_psnr
        if step == recipe.max_steps:
            done = torch.ones_like(done)
        grads = [g for layer in grads for g in layer]
        if done.any():
            finished = active[done]
            for dst, src in zip(final, flat):
                dst[finished] = src[done]
            final_psnr[finished] = psnr[done].double()
            final_steps[finished] = step
            keep = ~done
            active = active[keep]
            if on_finished:
                on_finished(int(done.sum()))
            if len(active) == 0:
                break
            flat, grads, exp_avg, exp_avg_sq = ([t[keep] for t in ts] for ts in (flat, grads, exp_avg, exp_avg_sq))
            targets = targets[keep]
        _adam_step(flat, grads, exp_avg, exp_avg_sq, step + 1, recipe.lr)

    layers = [(final[i].float().cpu().numpy(), final[i + 1].float().cpu().numpy()) for i in range(0, len(final), 2)]
    return FitResult(layers, final_psnr.cpu().numpy(), final_steps.cpu().numpy())


def fit_inrs(
    images: np.ndarray,
    image_indices: np.ndarray,
    recipe: SirenRecipe,
    seed: int,
    batch_size: int,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> FitResult:
    """Fit one SIREN per image in stacks of `batch_size` (the result does not depend on it)."""
    parts = [
        fit_batch(images[i : i + batch_size], image_indices[i : i + batch_size], recipe, seed, device, on_finished=progress)
        for i in range(0, len(images), batch_size)
    ]
    weights = [
        (np.concatenate([p.weights[l][0] for p in parts]), np.concatenate([p.weights[l][1] for p in parts]))
        for l in range(len(parts[0].weights))
    ]
    return FitResult(weights, np.concatenate([p.psnr for p in parts]), np.concatenate([p.steps for p in parts]))
