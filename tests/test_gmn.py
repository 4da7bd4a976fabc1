import pytest
import torch
import torch.nn.functional as F

from gmn_dgl import VARIANTS, dgl_block_forward, dgl_representations
from gmnrep.models.gmn import GMN, EdgeUpdatingBlock
from gmnrep.models.param_graph import GraphBatch, build_graphs
from siren_symmetries import permute_hidden_neurons, siren_weights

MNIST_SIREN = (2, 32, 32, 1)
CIFAR_SIREN = (2, 32, 32, 3)
pytestmark = pytest.mark.usefixtures("one_thread")
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
# Every GMN option, each once (the first is the default): the equivalence and invariance tests run on all.
OPTIONS = [
    {},
    {"pooling": "sum"},
    {"pooling": "max"},
    {"readout": "output"},
    {"readout": "nodes_edges"},
    {"readout": "nodes_edges", "pooling": "max"},
    {"encoder": "sin"},
    {"encoder": "rff", "rff_features": 8},
    {"head_layers": 3, "dropout": 0.2, "block_dropout": 0.2},
]
OPTION_IDS = ["-".join(f"{k}={v}" for k, v in o.items()) or "default" for o in OPTIONS]


def make_gmn(sizes, weights, dtype=torch.float32, seed=0, num_classes=5, **kwargs):
    torch.manual_seed(seed)
    model = GMN(sizes, num_classes, hidden=16, blocks=2, head_hidden=16, **kwargs).to(dtype).eval()
    model.set_input_statistics(weights)
    return model


def outputs(model, weights, form):
    model.form = form
    logits, layers = model.representations(weights)
    return [logits, *layers]


def assert_all_close(actual, expected, tol, relative_to_max=False):
    """Elementwise within tol; with relative_to_max, within tol times the largest |expected| of
    each tensor (gradients are sums over thousands of edges, so their rounding grows with them)."""
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        atol = tol * max(1.0, float(b.abs().max())) if relative_to_max else tol
        torch.testing.assert_close(a, b, rtol=tol, atol=atol)


def grads(loss, params):
    return torch.autograd.grad(loss, params)


# --- one block: the plain-torch edge-index form against DGL's message passing ---


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", VARIANTS)
def test_block_edge_index_form_equals_dgl(variant, dtype):
    torch.manual_seed(0)
    hidden = 16
    block = EdgeUpdatingBlock(hidden).to(dtype)
    graph = build_graphs(siren_weights(MNIST_SIREN, 3, dtype=torch.float32))
    batch = GraphBatch.from_dgl(graph)
    h = torch.randn(graph.num_nodes(), hidden, dtype=dtype, requires_grad=True)
    e = torch.randn(graph.num_edges(), hidden, dtype=dtype, requires_grad=True)
    h_weights, e_weights = torch.randn_like(h), torch.randn_like(e)  # a loss that sees every output
    inputs = [h, e, *block.parameters()]

    ours = block.forward_edges(h, e, batch)
    theirs = dgl_block_forward(block, graph, h, e, variant)
    tol = TOLERANCE[dtype]
    assert_all_close(theirs, ours, tol)
    assert ours[0].abs().max() > 0.1 and ours[1].abs().max() > 0.1
    ours_grads = grads((ours[0] * h_weights).sum() + (ours[1] * e_weights).sum(), inputs)
    theirs_grads = grads((theirs[0] * h_weights).sum() + (theirs[1] * e_weights).sum(), inputs)
    assert_all_close(theirs_grads, ours_grads, tol, relative_to_max=True)
    assert all(g.abs().max() > 0 for g in ours_grads)


def test_dgl_block_forward_leaves_the_graph_as_it_was():
    block = EdgeUpdatingBlock(8)
    graph = build_graphs(siren_weights(MNIST_SIREN, 1, dtype=torch.float32))
    keys = (set(graph.ndata), set(graph.edata))
    for variant in VARIANTS:
        dgl_block_forward(block, graph, torch.randn(67, 8), torch.randn(1120, 8), variant)
    assert (set(graph.ndata), set(graph.edata)) == keys
    with pytest.raises(ValueError, match="variant"):
        dgl_block_forward(block, graph, torch.randn(67, 8), torch.randn(1120, 8), "fast")


# --- the whole GMN: dense form, edge-index form, DGL blocks ---


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_dense_form_equals_edge_index_form_in_float64(options):
    weights = siren_weights(MNIST_SIREN, 4, dtype=torch.float64)
    model = make_gmn(MNIST_SIREN, weights, torch.float64, **options)
    params = list(model.parameters())
    dense, edge = outputs(model, weights, "dense"), outputs(model, weights, "edge_index")
    assert len(dense) == 1 + model.num_layers  # logits, then one layer per block and the head's
    assert_all_close(dense, edge, 1e-12)
    # the representations and logits depend on the input SIREN (far above float64 round-off)
    assert dense[1].std(dim=0).max() > 1e-3 and dense[0].std(dim=0).max() > 1e-5

    # a loss that reaches every parameter through every representation layer
    def loss(values):
        return sum((v * torch.linspace(-1, 1, v.numel(), dtype=v.dtype).reshape(v.shape)).sum() for v in values)

    dense_grads = grads(loss(outputs(model, weights, "dense")), params)
    edge_grads = grads(loss(outputs(model, weights, "edge_index")), params)
    assert_all_close(dense_grads, edge_grads, 1e-12)


def test_graph_batch_input_runs_the_edge_index_form():
    weights = siren_weights(CIFAR_SIREN, 3, dtype=torch.float64)
    model = make_gmn(CIFAR_SIREN, weights, torch.float64)
    batch = GraphBatch.from_dgl(build_graphs(weights))
    assert_all_close([model(batch)], [model(weights)], 1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gmn_with_dgl_blocks_equals_the_project_gmn(variant):
    weights = siren_weights(MNIST_SIREN, 3, dtype=torch.float64)
    model = make_gmn(MNIST_SIREN, weights, torch.float64)
    logits, layers = dgl_representations(model, weights, variant)
    assert_all_close([logits, *layers], outputs(model, weights, "dense"), 1e-12)


def test_dense_form_rejects_weights_of_another_architecture():
    model = make_gmn(MNIST_SIREN, siren_weights(MNIST_SIREN, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="SIREN"):
        model(siren_weights(CIFAR_SIREN, 2, dtype=torch.float32))


# --- symmetries ---


def test_hidden_permutation_helper_permutes_the_function_not_just_the_weights():
    # the SIREN computes the same function after the permutation, and its weights did change
    weights = siren_weights(MNIST_SIREN, 2, dtype=torch.float64)
    permuted = permute_hidden_neurons(weights)
    x = torch.rand(10, 2, dtype=torch.float64) * 2 - 1

    def siren(ws):
        a = x.expand(2, -1, -1)
        for i, (w, b) in enumerate(ws):
            a = a @ w.transpose(1, 2) + b[:, None]
            a = torch.sin(30 * a) if i < len(ws) - 1 else a
        return a

    torch.testing.assert_close(siren(permuted), siren(weights), rtol=0, atol=1e-12)
    assert all(not torch.equal(w, pw) for (w, _), (pw, _) in zip(weights, permuted))


@pytest.mark.parametrize("form", ["dense", "edge_index"])
@pytest.mark.parametrize("sizes", [MNIST_SIREN, CIFAR_SIREN])
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_permuting_hidden_neurons_changes_nothing(sizes, form, options):
    weights = siren_weights(sizes, 3, dtype=torch.float32)
    model = make_gmn(sizes, weights, **options)
    with torch.no_grad():
        assert_all_close(outputs(model, permute_hidden_neurons(weights), form), outputs(model, weights, form), 1e-5)


@pytest.mark.parametrize("form", ["dense", "edge_index"])
@pytest.mark.parametrize("side", ["input", "output"])
def test_permuting_input_or_output_neurons_changes_the_output(side, form):
    # inputs and outputs have their own position ids: swapping two of them is a different SIREN,
    # and the change is far above the tolerance of the invariance test (with a mean readout, too,
    # but there only 2 or 3 of 69 nodes move the mean: about 1e-4)
    weights = siren_weights(CIFAR_SIREN, 3, dtype=torch.float32)
    model = make_gmn(CIFAR_SIREN, weights, pooling="sum")
    swapped = [[w.clone(), b.clone()] for w, b in weights]
    if side == "input":
        swapped[0][0] = swapped[0][0].flip(2)
    else:
        swapped[-1][0], swapped[-1][1] = swapped[-1][0].roll(1, dims=1), swapped[-1][1].roll(1, dims=1)
    with torch.no_grad():
        change = [(a - b).abs().max() for a, b in zip(outputs(model, swapped, form), outputs(model, weights, form))]
    assert max(change) > 100 * TOLERANCE[torch.float32]


# --- input standardisation ---


def test_input_statistics_standardise_each_layer_pair():
    weights = siren_weights(MNIST_SIREN, 8, dtype=torch.float64)
    model = make_gmn(MNIST_SIREN, weights, torch.float64)
    for (w, b), (w_mean, w_std, b_mean, b_std) in zip(weights, model.input_stats):
        torch.testing.assert_close(((w - w_mean) / w_std).mean(), torch.tensor(0.0, dtype=torch.float64))
        torch.testing.assert_close(((w - w_mean) / w_std).std(), torch.tensor(1.0, dtype=torch.float64))
        torch.testing.assert_close(((b - b_mean) / b_std).std(), torch.tensor(1.0, dtype=torch.float64))

    # an affine map per layer pair (scale > 0), statistics reset on the mapped set: same function
    mapped = [(3.0**pair * w - 0.5 * pair, 0.1 * b + 2.0) for pair, (w, b) in enumerate(weights)]
    expected = outputs(model, weights, "dense")
    stale = outputs(model, mapped, "dense")
    model.set_input_statistics(mapped)
    assert_all_close(outputs(model, mapped, "dense"), expected, 1e-10)
    assert (stale[0] - expected[0]).abs().max() > 1e-3  # without resetting them it differs


def test_constant_layer_statistics_give_finite_outputs():
    weights = siren_weights(MNIST_SIREN, 4, dtype=torch.float32)
    weights = [(w, torch.zeros_like(b)) for w, b in weights]  # the DWSNets init: zero biases
    model = make_gmn(MNIST_SIREN, weights)
    assert torch.isfinite(model(weights)).all()


# --- training ---


def test_gmn_learns_a_separable_problem():
    # class 1: SIRENs whose output bias is shifted up; a GMN reads biases, so it can tell them apart
    weights = siren_weights(MNIST_SIREN, 32, seed=1, dtype=torch.float32)
    labels = torch.arange(32) % 2
    weights[-1] = (weights[-1][0], weights[-1][1] + labels[:, None].float())
    model = make_gmn(MNIST_SIREN, weights, num_classes=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(weights), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert (model(weights).argmax(dim=1) == labels).all()
