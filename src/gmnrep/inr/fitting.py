"""Fit many SIRENs at once: one stacked tensor program and one Adam over the stack.

Adam is elementwise, so one Adam over stacked weights is exactly one Adam per INR. Each INR
stops at the first step where its PSNR reaches the target: its weights, PSNR and step are
captured at that step, on the device, with no host synchronisation. Every `compact_every` steps
the captured INRs are taken out of the stack (weights and optimizer state), so the stack shrinks
as INRs converge; in between, a captured INR keeps training in the stack, which changes nothing
of the others (Adam is per element) nor its captured result. Compacting reads the device's flags
back to the host: on a CPU that is free, so it happens every step; on a GPU every
COMPACT_EVERY_ACCELERATOR steps, so the step loop does not wait on the host.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gmnrep.inr.siren import (
    Params,
    SirenRecipe,
    coordinate_grid,
    image_targets,
    init_params,
    mse_and_grads,
    psnr_from_mse,
)

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
COMPACT_EVERY_ACCELERATOR = 25
# On a CPU the step runs CPU_CHUNK INRs at a time: their (chunk, pixels, 32) temporaries then stay
# in the core's cache between the step's dozen passes over them, where a whole stack's (256 INRs:
# 25 MB each) streams through memory every pass (bench/inr_fitting.py measures both). A GPU takes
# the whole stack at once.
CPU_CHUNK = 8


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


def compact_interval(device: str | torch.device) -> int:
    return 1 if torch.device(device).type == "cpu" else COMPACT_EVERY_ACCELERATOR


def step_chunk(device: str | torch.device) -> int | None:
    return CPU_CHUNK if torch.device(device).type == "cpu" else None


def chunked_mse_and_grads(flat: list[torch.Tensor], coords, targets, recipe: SirenRecipe, chunk: int | None):
    """siren.mse_and_grads of the stack, `chunk` INRs at a time (None: all at once); the same numbers."""
    if chunk is None or chunk >= len(targets):
        mse, grads = mse_and_grads(_pairs(flat), coords, targets, recipe)
        return mse, [g for layer in grads for g in layer]
    parts = [
        mse_and_grads(_pairs([t[i : i + chunk] for t in flat]), coords, targets[i : i + chunk], recipe)
        for i in range(0, len(targets), chunk)
    ]
    grads = [torch.cat([grads[l][k] for _, grads in parts]) for l in range(len(flat) // 2) for k in (0, 1)]
    return torch.cat([mse for mse, _ in parts]), grads


def fit_batch(
    images: np.ndarray,
    image_indices: np.ndarray,
    recipe: SirenRecipe,
    seed: int,
    device: str | torch.device = "cpu",
    dtype=torch.float32,
    on_finished: Callable[[int], None] | None = None,
    compact_every: int | None = None,
    chunk: int | None = None,
) -> FitResult:
    """Fit one SIREN per image, all in one stack; `on_finished(n)` is told as INRs leave it.
    `compact_every` and `chunk` default to the device's (compact_interval, step_chunk)."""
    n = len(images)
    compact_every = compact_every or compact_interval(device)
    chunk = chunk or step_chunk(device)
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
    active = torch.arange(n, device=device)  # image rows of the stack
    captured = torch.zeros(n, dtype=torch.bool, device=device)  # per stack row
    diverged = torch.zeros(n, dtype=torch.bool, device=device)  # per stack row, while not captured

    for step in range(recipe.max_steps + 1):
        if step % compact_every == 0:
            _refuse_divergence(diverged, active, image_indices, step)
            if captured.any():
                keep = ~captured
                if on_finished:
                    on_finished(int(captured.sum()))
                active, diverged = active[keep], diverged[keep]
                if len(active) == 0:
                    break
                flat, exp_avg, exp_avg_sq = ([t[keep] for t in ts] for ts in (flat, exp_avg, exp_avg_sq))
                targets, captured = targets[keep], captured[keep]
        per_inr_mse, grads = chunked_mse_and_grads(flat, coords, targets, recipe, chunk)
        diverged |= ~torch.isfinite(per_inr_mse) & ~captured
        psnr = psnr_from_mse(per_inr_mse, recipe.data_range)
        newly = ~captured if step == recipe.max_steps else (psnr >= recipe.target_psnr) & ~captured
        for dst, src in zip(final, flat):
            shape = (-1,) + (1,) * (src.dim() - 1)
            dst[active] = torch.where(newly.view(shape), src, dst[active])
        final_psnr[active] = torch.where(newly, psnr.double(), final_psnr[active])
        final_steps[active] = torch.where(newly, step, final_steps[active])
        captured |= newly
        if step == recipe.max_steps:
            break
        _adam_step(flat, grads, exp_avg, exp_avg_sq, step + 1, recipe.lr)
    _refuse_divergence(diverged, active, image_indices, step)
    if on_finished and len(active):
        on_finished(int(captured.sum()))

    layers = [(final[i].float().cpu().numpy(), final[i + 1].float().cpu().numpy()) for i in range(0, len(final), 2)]
    return FitResult(layers, final_psnr.cpu().numpy(), final_steps.cpu().numpy())


def _refuse_divergence(diverged: torch.Tensor, active: torch.Tensor, image_indices: np.ndarray, step: int) -> None:
    if diverged.any():
        bad = image_indices[active[diverged].cpu().numpy()]
        raise FloatingPointError(f"non-finite INR loss by step {step} for image indices {bad[:10].tolist()}")


def fit_inrs(
    images: np.ndarray,
    image_indices: np.ndarray,
    recipe: SirenRecipe,
    seed: int,
    batch_size: int,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
    chunk: int | None = None,
) -> FitResult:
    """Fit one SIREN per image in stacks of `batch_size` (the result does not depend on it)."""
    parts = [
        fit_batch(
            images[i : i + batch_size],
            image_indices[i : i + batch_size],
            recipe,
            seed,
            device,
            on_finished=progress,
            chunk=chunk,
        )
        for i in range(0, len(images), batch_size)
    ]
    weights = [
        (np.concatenate([p.weights[l][0] for p in parts]), np.concatenate([p.weights[l][1] for p in parts]))
        for l in range(len(parts[0].weights))
    ]
    return FitResult(weights, np.concatenate([p.psnr for p in parts]), np.concatenate([p.steps for p in parts]))
