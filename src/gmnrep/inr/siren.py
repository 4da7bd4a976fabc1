"""SIREN implicit neural representations: recipes, per-INR seeded initialisation, and a
forward pass over a stack of INRs that share one architecture.

A SIREN with layer sizes [2, h_1, ..., h_k, c] computes, for pixel coordinates x in [-1,1]^2,
    a_0 = x,  a_l = sin(w0 (W_l a_{l-1} + b_l)) for l = 1..k,  f(x) = W_{k+1} a_k + b_{k+1} + offset.
"""

import hashlib
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

Params = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (W, b); W (B, out, in), b (B, out)


@dataclass(frozen=True)
class SirenRecipe:
    """How one INR is built and fitted.

    init "dwsnets" (AvivNavon/DWSNets nn/inr.py): sine layers, the first included, U(+-sqrt(6/fan_in)/w0)
    with zero biases; the last layer a torch.nn.Linear with its default init, weight and bias
    U(+-1/sqrt(fan_in)).
    init "siren": the original SIREN init: first layer U(+-1/fan_in), later layers
    U(+-sqrt(6/fan_in)/w0), biases U(+-1/sqrt(fan_in)) as torch.nn.Linear does (NFN's CIFAR-10 INRs).
    shared_init: every INR starts from the same draw (seed only) instead of its own (seed, image).
    coordinates: the order of the two inputs, "ij" (row, column; NFN's torch.meshgrid) or "xy"
    (column, row; DWSNets' np.meshgrid, experiments/utils.py make_coordinates).
    """

    hidden: tuple[int, ...]
    w0: float
    init: Literal["dwsnets", "siren"]
    output_offset: float
    target_range: tuple[float, float]
    lr: float
    max_steps: int
    target_psnr: float
    shared_init: bool = False
    coordinates: Literal["ij", "xy"] = "ij"

    @classmethod
    def from_config(cls, values: dict) -> "SirenRecipe":
        return cls(
            hidden=tuple(values["hidden"]),
            w0=float(values["w0"]),
            init=values["init"],
            output_offset=float(values["output_offset"]),
            target_range=tuple(float(v) for v in values["target_range"]),
            lr=float(values["lr"]),
            max_steps=int(values["max_steps"]),
            target_psnr=float(values["target_psnr"]),
            shared_init=bool(values.get("shared_init", False)),
            coordinates=values.get("coordinates", "ij"),
        )

    def as_attrs(self) -> dict:
        return {f"recipe.{k}": v for k, v in asdict(self).items()}

    def layer_sizes(self, out_features: int) -> list[int]:
        return [2, *self.hidden, out_features]

    @property
    def data_range(self) -> float:
        return self.target_range[1] - self.target_range[0]


def coordinate_grid(height: int, width: int, dtype=torch.float32, order: str = "ij") -> torch.Tensor:
    """(H*W, 2) pixel centres on linspace(-1, 1), pixels row-major; each pixel's coordinates in
    (row, column) order for `order` "ij", (column, row) for "xy"."""
    rows = torch.linspace(-1, 1, height, dtype=torch.float64)
    cols = torch.linspace(-1, 1, width, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)
    return (grid if order == "ij" else grid.flip(1)).to(dtype)


def image_targets(images: np.ndarray, recipe: SirenRecipe, dtype=torch.float32) -> torch.Tensor:
    """uint8 images (B,H,W[,C]) -> (B, H*W, C) targets scaled linearly from [0,255] to the recipe's range."""
    x = torch.from_numpy(np.array(images, dtype=np.float64))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    lo, hi = recipe.target_range
    return (lo + (hi - lo) * x / 255.0).reshape(x.shape[0], -1, x.shape[-1]).to(dtype)


def _inr_generator(seed: int, image_index: int) -> torch.Generator:
    # Each INR's init depends only on (seed, image_index): a shard's result does not depend on
    # how its images were batched, and one INR can be refitted alone.
    digest = hashlib.sha256(f"siren-init:{seed}:{image_index}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def _init_bounds(init: str, layer: int, num_layers: int, fan_in: int, w0: float) -> tuple[float, float]:
    """Half-widths of the uniform weight and bias draws of `layer` (0 = first); a bias bound of 0
    means zero biases."""
    linear_default = 1.0 / float(np.sqrt(fan_in))  # torch.nn.Linear's default, weight and bias
    sine = float(np.sqrt(6.0 / fan_in) / w0)
    if init == "dwsnets":
        return (linear_default, linear_default) if layer == num_layers - 1 else (sine, 0.0)
    return (1.0 / fan_in if layer == 0 else sine), linear_default


def init_params(recipe: SirenRecipe, out_features: int, seed: int, image_indices, dtype=torch.float32) -> Params:
    """Stacked initial weights for the INRs of `image_indices` (drawn in float64, then cast)."""
    sizes = recipe.layer_sizes(out_features)
    per_layer = [([], []) for _ in sizes[1:]]
    for index in np.asarray(image_indices).tolist():
        g = _inr_generator(seed, 0 if recipe.shared_init else index)
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            weight_bound, bias_bound = _init_bounds(recipe.init, layer, len(sizes) - 1, fan_in, recipe.w0)
            w = (torch.rand(fan_out, fan_in, generator=g, dtype=torch.float64) * 2 - 1) * weight_bound
            if bias_bound:
                b = (torch.rand(fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bias_bound
            else:
                b = torch.zeros(fan_out, dtype=torch.float64)
            per_layer[layer][0].append(w)
            per_layer[layer][1].append(b)
    return [(torch.stack(ws).to(dtype), torch.stack(bs).to(dtype)) for ws, bs in per_layer]


def forward(params: Params, coords: torch.Tensor, recipe: SirenRecipe) -> torch.Tensor:
    """Outputs (B, P, C) of B stacked SIRENs at coordinates (P, 2)."""
    w, b = params[0]
    h = torch.sin(recipe.w0 * (torch.einsum("pi,boi->bpo", coords, w) + b.unsqueeze(1)))
    for w, b in params[1:-1]:
        h = torch.sin(recipe.w0 * torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
    w, b = params[-1]
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)) + recipe.output_offset


def augment(params: Params) -> list[torch.Tensor]:
    """Each layer's (W (B, out, in), b (B, out)) as one (B, out, in + 1) tensor [W | b], so that the
    bias rides on the layer's matrix product against inputs that end in a row of ones."""
    return [torch.cat([w, b.unsqueeze(-1)], dim=-1).contiguous() for w, b in params]


def split_augmented(layers: list[torch.Tensor]) -> Params:
    return [(a[..., :-1], a[..., -1]) for a in layers]


def homogeneous_coordinates(coords: torch.Tensor) -> torch.Tensor:
    """(P, 2) coordinates -> (3, P): one pixel per column, a row of ones below (see `augment`)."""
    return torch.cat([coords.T, coords.new_ones(1, len(coords))]).contiguous()


class StepBuffers:
    """The temporaries of `mse_and_grads` for up to `capacity` INRs, allocated once and reused:
    a fresh tensor of this size costs page faults on every step, as much as the sines themselves.

    Layout is feature-major, (INR, feature, pixel), so each layer is one matrix product (W | b)
    times (inputs; ones) and every elementwise pass runs over contiguous rows of pixels."""

    def __init__(self, capacity: int, sizes: list[int], pixels: int, dtype, device):
        hidden = sizes[1:-1]
        self.activations = []  # sin(z_l) with a row of ones below: the next layer's inputs
        for width in hidden:
            a = torch.empty(capacity, width + 1, pixels, dtype=dtype, device=device)
            a[:, width] = 1
            self.activations.append(a)
        self.cosines = [torch.empty(capacity, w, pixels, dtype=dtype, device=device) for w in hidden]
        self.upstream = [torch.empty(capacity, w, pixels, dtype=dtype, device=device) for w in hidden]
        self.pre_activation = torch.empty(capacity, max(hidden), pixels, dtype=dtype, device=device)
        self.residual = torch.empty(capacity, sizes[-1], pixels, dtype=dtype, device=device)


def mse_and_grads(
    layers: list[torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    recipe: SirenRecipe,
    buffers: StepBuffers,
    grads: list[torch.Tensor],
) -> torch.Tensor:
    """Per-INR MSE (B,) of B stacked SIRENs; the gradient of each INR's own MSE w.r.t. its
    augmented layers (B, out, in + 1) is written into `grads` (same shapes).

    inputs: homogeneous coordinates (3, P); targets: (B, C, P), feature-major like the buffers.
    A hand-written backward pass (autograd is several times slower on this inner loop) with
    a_l = sin(w0 z_l), z_l = [W_l | b_l] (a_{l-1}; 1):  d a_l / d z_l = w0 cos(w0 z_l).
    """
    n, w0 = len(targets), recipe.w0
    acts = [inputs.expand(n, -1, -1)]  # as a batched product: a matmul of depth 3 is slow as one (n*out, 3) x (3, P)
    for layer, a in enumerate(layers[:-1]):
        width = a.shape[1]
        z = torch.bmm(a * w0, acts[-1], out=buffers.pre_activation[:n, :width])
        torch.cos(z, out=buffers.cosines[layer][:n])
        out = buffers.activations[layer][:n]
        torch.sin(z, out=out[:, :width])
        acts.append(out)
    residual = torch.bmm(layers[-1], acts[-1], out=buffers.residual[:n])
    residual.add_(recipe.output_offset).sub_(targets)
    mse = residual.pow(2).mean((1, 2))
    upstream = residual.mul_(2.0 / (residual.shape[1] * residual.shape[2]))
    for layer in range(len(layers) - 1, -1, -1):
        # Hidden layers: computed transposed, then copied, as BLAS runs (in, P) x (P, out) faster than
        # (out, P) x (P, in) for out ~ in (measured: docs/performance.md); the output layer (out =
        # channels) the other way round.
        if layer == len(layers) - 1:
            torch.bmm(upstream, acts[layer].transpose(1, 2), out=grads[layer])
        elif layer > 0:
            grads[layer].copy_(torch.bmm(acts[layer], upstream.transpose(1, 2)).transpose(1, 2))
        else:  # the inputs are shared: one product for every INR at once
            grads[0].view(-1, inputs.shape[0]).copy_(torch.mm(inputs, upstream.reshape(-1, inputs.shape[1]).T).T)
            break
        weights_t = layers[layer][:, :, :-1].transpose(1, 2) * w0  # w0 of d a / d z, on the small matrix
        below, cosines = buffers.upstream[layer - 1][:n], buffers.cosines[layer - 1][:n]
        if upstream.shape[1] == 1:  # an outer product: one broadcast multiply instead of a matmul of depth 1
            torch.mul(cosines, upstream, out=below).mul_(weights_t)
        else:
            torch.bmm(weights_t, upstream, out=below).mul_(cosines)
        upstream = below
    return mse


def psnr(outputs: torch.Tensor, targets: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-INR PSNR in dB: 10 log10(range^2 / MSE), MSE over all pixels and channels."""
    return psnr_from_mse((outputs - targets).pow(2).flatten(1).mean(1), data_range)


def psnr_from_mse(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    return 10 * torch.log10(data_range**2 / mse)
