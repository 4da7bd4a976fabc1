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

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from gmnrep.inr.siren import (
    SirenRecipe,
    StepBuffers,
    augment,
    coordinate_grid,
    homogeneous_coordinates,
    image_targets,
    init_params,
    mse_and_grads,
    psnr_from_mse,
    split_augmented,
)

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
COMPACT_EVERY_ACCELERATOR = 25
# On a CPU the step runs the stack a chunk of INRs at a time, CPU_CHUNK_PIXELS pixels in all (16
# 28x28 images): their (chunk, 32, pixels) temporaries then stay in the core's cache between the
# step's passes over them, where a whole stack's (256 28x28 INRs: 25 MB each) streams through
# memory every pass; much smaller chunks pay per-operation overhead instead (bench/inr_fitting.py
# measures both). A GPU takes the whole stack at once.
CPU_CHUNK_PIXELS = 16 * 28 * 28


@dataclass
class FitResult:
    weights: list[tuple[np.ndarray, np.ndarray]]  # per layer (W (n,out,in), b (n,out)), float32
    psnr: np.ndarray  # (n,) dB at the returned weights
    steps: np.ndarray  # (n,) Adam steps taken


def _adam_step(params: list[torch.Tensor], grads, exp_avg, exp_avg_sq, step: int, lr: float) -> None:
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


def compact_interval(device: str | torch.device) -> int:
    return 1 if torch.device(device).type == "cpu" else COMPACT_EVERY_ACCELERATOR


def step_chunk(device: str | torch.device, pixels: int) -> int | None:
    return max(1, CPU_CHUNK_PIXELS // pixels) if torch.device(device).type == "cpu" else None


def chunked_mse_and_grads(layers, inputs, targets, recipe: SirenRecipe, buffers: StepBuffers, grads, chunk):
    """siren.mse_and_grads of the stack, `chunk` INRs at a time (None: all at once); the same numbers.
    `buffers` holds at least `chunk` INRs (all of them for None); `grads` at least the stack."""
    n = len(targets)
    chunk = chunk or n
    return torch.cat(
        [
            mse_and_grads(
                [a[i : i + chunk] for a in layers],
                inputs,
                targets[i : i + chunk],
                recipe,
                buffers,
                [g[i : min(i + chunk, n)] for g in grads],
            )
            for i in range(0, n, chunk)
        ]
    )


class FitProgress(Protocol):
    """What a fit tells as it goes: optimizer steps done by a stack (a stack whose INRs all stopped
    early is told its remaining steps at once), and INRs that stopped (read when the stack is
    compacted, so a GPU is not made to wait for it)."""

    def advance(self, steps: int) -> None: ...

    def stopped(self, inrs: int) -> None: ...


def fit_batch(
    images: np.ndarray,
    image_indices: np.ndarray,
    recipe: SirenRecipe,
    seed: int,
    device: str | torch.device = "cpu",
    dtype=torch.float32,
    progress: FitProgress | None = None,
    compact_every: int | None = None,
    chunk: int | None = None,
) -> FitResult:
    """Fit one SIREN per image, all in one stack, telling `progress` as it goes.
    `compact_every` and `chunk` default to the device's (compact_interval, step_chunk)."""
    n = len(images)
    compact_every = compact_every or compact_interval(device)
    height, width = images.shape[1:3]
    chunk = chunk or step_chunk(device, height * width)
    inputs = homogeneous_coordinates(coordinate_grid(height, width, dtype, recipe.coordinates)).to(device)
    targets = image_targets(images, recipe, dtype).transpose(1, 2).contiguous().to(device)  # (n, C, pixels)
    out_features = targets.shape[1]
    flat = [t.to(device) for t in augment(init_params(recipe, out_features, seed, image_indices, dtype))]
    buffers = StepBuffers(min(chunk or n, n), recipe.layer_sizes(out_features), height * width, dtype, device)
    grads = [torch.empty_like(t) for t in flat]
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
                if progress:
                    progress.stopped(int(captured.sum()))
                active, diverged = active[keep], diverged[keep]
                if len(active) == 0:
                    break
                flat, exp_avg, exp_avg_sq = ([t[keep] for t in ts] for ts in (flat, exp_avg, exp_avg_sq))
                targets, captured = targets[keep], captured[keep]
        per_inr_mse = chunked_mse_and_grads(flat, inputs, targets, recipe, buffers, grads, chunk)
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
        _adam_step(flat, [g[: len(active)] for g in grads], exp_avg, exp_avg_sq, step + 1, recipe.lr)
        if progress:
            progress.advance(1)
    _refuse_divergence(diverged, active, image_indices, step)
    if progress:
        progress.advance(recipe.max_steps - step)
        if len(active):
            progress.stopped(int(captured.sum()))

    layers = [(w.float().cpu().numpy(), b.float().cpu().numpy()) for w, b in split_augmented(final)]
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
    progress: FitProgress | None = None,
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
            progress=progress,
            chunk=chunk,
        )
        for i in range(0, len(images), batch_size)
    ]
    weights = [
        (np.concatenate([p.weights[l][0] for p in parts]), np.concatenate([p.weights[l][1] for p in parts]))
        for l in range(len(parts[0].weights))
    ]
    return FitResult(weights, np.concatenate([p.psnr for p in parts]), np.concatenate([p.steps for p in parts]))
