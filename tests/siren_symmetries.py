"""Stacks of SIRENs and the transformations of their weights that the metanetworks' tests apply:
the SIREN's real symmetries (hidden-neuron permutations, sign flips of hidden sine neurons) and
changes that are not symmetries (an input or output neuron's sign)."""

import torch

from gmnrep.inr.siren import SirenRecipe, init_params


def recipe(sizes):
    return SirenRecipe(tuple(sizes[1:-1]), 30.0, "siren", 0.0, (-1.0, 1.0), 5e-4, 1, 40.0)


def siren_weights(sizes, n, seed=0, dtype=torch.float64):
    """SIREN-initialised weights (biases too) with some spread, as fitted INRs have."""
    g = torch.Generator().manual_seed(seed)
    return [
        (
            w * (1 + torch.rand(w.shape, generator=g, dtype=dtype)),
            b + 0.1 * torch.randn(b.shape, generator=g, dtype=dtype),
        )
        for w, b in init_params(recipe(sizes), sizes[-1], seed, range(n), dtype)
    ]


def hidden_permutations(weights, seed=0):
    """A random permutation of each hidden layer's neurons for each SIREN: per hidden layer, (n, width)."""
    g = torch.Generator().manual_seed(seed)
    n = weights[0][0].shape[0]
    return [torch.stack([torch.randperm(b.shape[1], generator=g) for _ in range(n)]) for _, b in weights[:-1]]


def permuted(weights, perms):
    """Neuron k of hidden layer l of SIREN s becomes its neuron perms[l][s, k]: the rows of W_l and
    b_l, and the columns of W_{l+1}."""
    rows = torch.arange(weights[0][0].shape[0])[:, None]
    out = [[w, b] for w, b in weights]
    for layer, perm in enumerate(perms):
        out[layer] = [out[layer][0][rows, perm], out[layer][1][rows, perm]]
        out[layer + 1][0] = out[layer + 1][0][rows, :, perm].transpose(1, 2)
    return [(w, b) for w, b in out]


def permute_hidden_neurons(weights, seed=0):
    """Each hidden layer of each SIREN gets its own random permutation of its neurons."""
    return permuted(weights, hidden_permutations(weights, seed))


def random_signs(weights, seed=0):
    """q in {+1, -1} for every hidden neuron of every SIREN: per hidden layer, (n, width)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 2, b.shape, generator=g).to(b.dtype) * 2 - 1 for _, b in weights[:-1]]


def flip_hidden_signs(weights, signs, outgoing=True):
    """Negate the incoming weights and bias of each hidden neuron with q = -1 and (the symmetry),
    with `outgoing`, its outgoing weights; without, only the incoming side (not a symmetry)."""
    out = [[w, b] for w, b in weights]
    for layer, q in enumerate(signs):
        out[layer] = [out[layer][0] * q[:, :, None], out[layer][1] * q]
        if outgoing:
            out[layer + 1][0] = out[layer + 1][0] * q[:, None, :]
    return [(w, b) for w, b in out]


def flip_io_neuron(weights, side):
    """Negate the weights of input neuron 0 (its outgoing weights), or the incoming weights and
    bias of output neuron 0: input and output neurons have no sign symmetry."""
    out = [[w.clone(), b.clone()] for w, b in weights]
    if side == "input":
        out[0][0][:, :, 0] *= -1
    else:
        out[-1][0][:, 0] *= -1
        out[-1][1][:, 0] *= -1
    return [(w, b) for w, b in out]
