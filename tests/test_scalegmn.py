import pytest
import torch

from gmnrep.inr.siren import SirenRecipe, coordinate_grid, init_params
from gmnrep.inr.siren import forward as siren_forward
from gmnrep.models.scalegmn import ScaleGMN, SignEquivariant, SignSymmetrised

pytestmark = pytest.mark.usefixtures("one_thread")
SIZES = (2, 8, 8, 3)  # two hidden layers, several outputs (each output neuron its own type)
TOL = 1e-10  # float64, relative to the largest |value| of each tensor
OPTIONS = [
    {"direction": "forward"},
    {"direction": "bidirectional"},
    {"direction": "bidirectional", "head_layers": 2, "dropout": 0.2, "block_dropout": 0.2, "mlp_dropout": 0.2},
]
OPTION_IDS = ["-".join(f"{k}={v}" for k, v in o.items()) for o in OPTIONS]
DIRECTIONS = ["forward", "bidirectional"]


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


def make_model(sizes=SIZES, seed=0, dtype=torch.float64, layers=3, **options):
    torch.manual_seed(seed)
    model = ScaleGMN(sizes, 5, hidden=8, layers=layers, head_hidden=8, **options)
    return model.to(dtype).eval()


def outputs(model, weights):
    logits, layers = model.representations(weights)
    return [logits, *layers]


def assert_all_close(actual, expected, tol=TOL):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * max(1.0, float(b.abs().max().detach())))


def max_change(actual, expected):
    """The largest change of any output, relative to that output's scale."""
    return max(float((a - b).abs().max().detach() / b.abs().max().detach()) for a, b in zip(actual, expected))


# --- symmetry transforms of a stack of SIRENs ---


def permute_hidden_neurons(weights, seed=0):
    """Each hidden layer of each SIREN gets its own random permutation of its neurons: the rows of
    W_l and b_l, and the columns of W_{l+1}."""
    g = torch.Generator().manual_seed(seed)
    n = weights[0][0].shape[0]
    rows = torch.arange(n)[:, None]
    out = [[w, b] for w, b in weights]
    for layer in range(len(weights) - 1):
        perm = torch.stack([torch.randperm(out[layer][1].shape[1], generator=g) for _ in range(n)])
        out[layer] = [out[layer][0][rows, perm], out[layer][1][rows, perm]]
        out[layer + 1][0] = out[layer + 1][0][rows, :, perm].transpose(1, 2)
    return [(w, b) for w, b in out]


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


def siren_outputs(weights, sizes=SIZES):
    coords = coordinate_grid(8, 8, dtype=torch.float64)
    return siren_forward(weights, coords, recipe(sizes))


# --- the transforms: the symmetries are the SIREN's real ones ---


def test_sign_flip_and_permutation_keep_the_siren_function():
    weights = siren_weights(SIZES, 3)
    signs = random_signs(weights)
    assert all((q == -1).any() and (q == 1).any() for q in signs)
    reference = siren_outputs(weights)
    assert reference.std() > 1e-3
    for transformed in (flip_hidden_signs(weights, signs), permute_hidden_neurons(weights)):
        torch.testing.assert_close(siren_outputs(transformed), reference, rtol=0, atol=1e-12)
        assert all(not torch.equal(w, tw) for (w, _), (tw, _) in zip(weights, transformed))
    # flipping only the incoming side of the hidden neurons, or an input or output neuron, is not a
    # symmetry: the function changes
    not_symmetries = [flip_hidden_signs(weights, signs, outgoing=False)]
    not_symmetries += [flip_io_neuron(weights, side) for side in ("input", "output")]
    for transformed in not_symmetries:
        assert (siren_outputs(transformed) - reference).abs().max() > 1e-2


# --- the blocks ---


def test_blocks_are_sign_invariant_and_equivariant():
    torch.manual_seed(0)
    x = torch.randn(5, 6, dtype=torch.float64)
    sym = SignSymmetrised(6, 7).double()
    torch.testing.assert_close(sym(x), sym.rho(x) + sym.rho(-x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sym(-x), sym(x), rtol=1e-12, atol=1e-12)
    eq = SignEquivariant(6, 4, 7).double()
    torch.testing.assert_close(eq(-x), -eq(x), rtol=1e-12, atol=1e-12)
    assert (sym(x) - sym(2 * x)).abs().max() > 1e-3 and eq(x).abs().max() > 1e-3


# --- the whole ScaleGMN: invariances ---


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_permuting_hidden_neurons_changes_nothing(options):
    weights = siren_weights(SIZES, 3)
    model = make_model(**options)
    with torch.no_grad():
        expected = outputs(model, weights)
        assert_all_close(outputs(model, permute_hidden_neurons(weights)), expected)
    # every output depends on the SIREN, far above the tolerance
    assert all(float(v.std(dim=0).max() / v.abs().max()) > 1e-3 for v in expected)


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_flipping_hidden_signs_changes_nothing(options):
    weights = siren_weights(SIZES, 3)
    model = make_model(**options)
    with torch.no_grad():
        expected = outputs(model, weights)
        for seed in range(3):
            signs = random_signs(weights, seed)
            flipped = flip_hidden_signs(weights, signs)
            assert all(not torch.equal(w, fw) for (w, _), (fw, _) in zip(weights, flipped))
            assert_all_close(outputs(model, flipped), expected)
            # both symmetries at once
            assert_all_close(outputs(model, permute_hidden_neurons(flipped, seed)), expected)
            # flipping only the incoming side is not a symmetry, and the model sees it (weakly: at
            # initialisation, with raw SIREN weights of about 0.02, weights move the outputs little)
            assert max_change(outputs(model, flip_hidden_signs(weights, signs, outgoing=False)), expected) > 1e3 * TOL


@pytest.mark.parametrize("side", ["input", "output"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_flipping_an_input_or_output_neuron_changes_the_output(direction, side):
    weights = siren_weights(SIZES, 3)
    model = make_model(direction=direction)
    with torch.no_grad():
        expected = outputs(model, weights)
        flipped = outputs(model, flip_io_neuron(weights, side))
    # the logits and every representation layer move far beyond the invariance tolerance
    for a, b in zip(flipped, expected):
        assert float((a - b).abs().max() / b.abs().max()) > 1e3 * TOL


# --- shapes and arguments ---


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_shapes(direction):
    weights = siren_weights(SIZES, 4, dtype=torch.float32)
    model = ScaleGMN(SIZES, 7, hidden=8, layers=2, direction=direction, head_hidden=6, head_layers=2).eval()
    assert model.num_layers == 3
    logits, layers = model.representations(weights)
    assert logits.shape == (4, 7)
    assert len(layers) == model.num_layers
    assert [tuple(layer.shape) for layer in layers] == [(4, 8 * (1 + 2 + 3))] * 2 + [(4, 6)]
    assert torch.equal(model(weights), logits)


def test_arguments_are_checked():
    model = make_model(dtype=torch.float32)
    with pytest.raises(ValueError, match="SIREN"):
        model(siren_weights((2, 8, 8, 1), 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="SIREN"):
        model(siren_weights((2, 8, 6, 3), 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="direction"):
        ScaleGMN(SIZES, 5, direction="backward")
    with pytest.raises(ValueError, match="hidden layers"):
        ScaleGMN((2, 3), 5)


# --- the dense form against a per-edge loop ---


def edge_list_outputs(model, weights):
    """Logits and representation layers of `model`, computed one node and one edge at a time from
    the model's blocks (the equations of the module doc, with the graph as explicit lists)."""
    sizes, bidirectional = model.layer_sizes, model.direction == "bidirectional"
    last, n_in = len(sizes) - 1, sizes[0]
    batch = weights[0][0].shape[0]
    nodes = [(layer, i) for layer in range(last + 1) for i in range(sizes[layer])]
    index = {node: k for k, node in enumerate(nodes)}
    edges = [  # (source node, destination node, layer pair, i, j): the weight W_l[j, i]
        (index[pair, i], index[pair + 1, j], pair, i, j)
        for pair in range(last)
        for j in range(sizes[pair + 1])
        for i in range(sizes[pair])
    ]

    def kind(node):
        layer = nodes[node][0]
        return "input" if layer == 0 else "output" if layer == last else "hidden"

    h = []
    for layer, i in nodes:
        if layer == 0:
            h.append(model.bias_projection(torch.ones(batch, 1, dtype=torch.float64)) + model.node_types[i])
        elif layer == last:
            bias = weights[layer - 1][1][:, i : i + 1]
            h.append(model.bias_projection(bias) + model.node_types[n_in + last - 1 + i])
        else:
            h.append(model.bias_projection(weights[layer - 1][1][:, i : i + 1]) * model.node_types[n_in + layer - 1])
    e = []
    for _, _, pair, i, j in edges:
        edge_type = i if pair == 0 else n_in + last - 2 + j if pair == last - 1 else n_in + pair - 1
        e.append(model.weight_projection(weights[pair][0][:, j, i : i + 1]) * model.edge_types[edge_type])
    e0 = list(e)

    pooled = []
    for block in model.layers:
        forward = [torch.zeros_like(h[0]) for _ in nodes]
        backward = [torch.zeros_like(h[0]) for _ in nodes]
        for k, (src, dst, *_) in enumerate(edges):
            forward[dst] = forward[dst] + block.forward_messages(e[k], h[src], kind(dst) == "hidden")
            if bidirectional:
                backward[src] = backward[src] + block.backward_messages(e0[k], h[dst], kind(src) == "hidden")
        if block.edge_update is not None:
            e = [block.edge_update(e[k], h[src], h[dst]) for k, (src, dst, *_) in enumerate(edges)]
        update = {"input": block.update_input, "hidden": block.update_hidden, "output": block.update_output}
        new_h = []
        for v in range(len(nodes)):
            inputs = [h[v], forward[v], *([backward[v]] if bidirectional else [])]
            new_h.append(block.skip(h[v]) + update[kind(v)](torch.cat(inputs, dim=-1)))
        h = new_h
        hidden_sum = sum(model.readout.phi(model.readout.sym(h[v])) for v in range(len(nodes)) if kind(v) == "hidden")
        io = [h[v] for v in range(len(nodes)) if kind(v) == "input"] + [
            h[v] for v in range(len(nodes)) if kind(v) == "output"
        ]
        pooled.append(torch.cat([hidden_sum, *io], dim=-1))
    penultimate = model.head(pooled[-1])
    return [model.classifier(penultimate), *pooled, penultimate]


@pytest.mark.parametrize("sizes", [(2, 4, 3, 1), (2, 4, 3, 2), (2, 5, 2)])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_dense_form_equals_the_edge_list_form_in_float64(direction, sizes):
    weights = siren_weights(sizes, 2)
    model = make_model(sizes, direction=direction, head_layers=2)
    with torch.no_grad():
        dense = outputs(model, weights)
        assert_all_close(edge_list_outputs(model, weights), dense, 1e-12)
    assert all(float(v.std(dim=0).max() / v.abs().max()) > 1e-3 for v in dense)


# --- gradients ---


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_parameter_gets_a_gradient(direction, layers):
    weights = siren_weights(SIZES, 3, dtype=torch.float32)
    model = make_model(direction=direction, layers=layers, dtype=torch.float32).train()
    model(weights).pow(2).sum().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().max() > 0]
    assert not missing
    # a last layer updates no edges (nothing would read them): the module is not there at all
    assert [block.edge_update is None for block in model.layers] == [k == layers - 1 for k in range(layers)]
    assert (model.layers[0].backward_messages is None) == (direction == "forward")


def test_the_input_scale_is_fitted_per_layer_and_keeps_both_symmetries():
    weights = siren_weights(SIZES, 6)
    model = make_model()
    before = outputs(model, weights)
    model.set_input_scale(weights)
    for pair, (w, b) in enumerate(weights):
        expected = [float(t.square().mean().sqrt()) for t in (w, b)]
        torch.testing.assert_close(model.input_scale[pair].tolist(), expected, rtol=1e-12, atol=0)
    scaled = outputs(model, weights)
    assert max_change(scaled, before) > 1e-3  # the scale reaches the features
    assert_all_close(outputs(model, flip_hidden_signs(weights, random_signs(weights))), scaled)
    assert_all_close(outputs(model, permute_hidden_neurons(weights)), scaled)
