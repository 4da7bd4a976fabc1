import pytest
import torch

from gmnrep.models.param_graph import GraphBatch, build_graphs, layout

MNIST_SIREN = (2, 32, 32, 1)
CIFAR_SIREN = (2, 32, 32, 3)


def random_weights(sizes, n, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(n, fan_out, fan_in, generator=g, dtype=dtype), torch.randn(n, fan_out, generator=g, dtype=dtype))
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]


def neuron_index(graph_of_node: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """Each node's index among the nodes of its graph and layer, in node-id order (the documented
    node order); assumes nothing about where a layer's nodes are."""
    key = graph_of_node * (int(layer.max()) + 1) + layer
    order = torch.argsort(key, stable=True)
    sorted_key = key[order]
    index = torch.empty_like(key)
    index[order] = torch.arange(len(key)) - torch.searchsorted(sorted_key, sorted_key)
    return index


def rebuild_weights(graph, n: int, sizes):
    """The weight stack read back from the graph's edges and node features (not its edge order)."""
    src, dst = graph.edges()
    layer = graph.ndata["layer"]
    graph_of_node = torch.repeat_interleave(torch.arange(n), graph.batch_num_nodes())
    index = neuron_index(graph_of_node, layer)
    assert torch.equal(layer[dst], layer[src] + 1)  # edges go one layer forward
    assert torch.equal(graph_of_node[src], graph_of_node[dst])  # and stay inside one graph
    assert torch.equal(graph.edata["layer"], layer[src])
    weights = []
    for pair, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        edges = layer[src] == pair
        k, out, inp = graph_of_node[dst[edges]], index[dst[edges]], index[src[edges]]
        w = torch.full((n, fan_out, fan_in), torch.nan, dtype=graph.edata["weight"].dtype)
        w[k, out, inp] = graph.edata["weight"][edges]
        count = torch.zeros(n, fan_out, fan_in, dtype=torch.long)
        count.index_put_((k, out, inp), torch.ones_like(k), accumulate=True)
        assert torch.equal(count, torch.ones_like(count))  # one edge per weight, no more
        nodes = layer == pair + 1
        b = torch.full((n, fan_out), torch.nan, dtype=graph.ndata["bias"].dtype)
        b[graph_of_node[nodes], index[nodes]] = graph.ndata["bias"][nodes]
        weights.append((w, b))
    return weights


@pytest.mark.parametrize("sizes", [MNIST_SIREN, CIFAR_SIREN])
def test_graph_of_one_siren_holds_its_weights_and_biases(sizes):
    weights = random_weights(sizes, 1)
    graph = build_graphs(weights)
    assert graph.num_nodes() == sum(sizes)
    assert graph.num_edges() == sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    if sizes == MNIST_SIREN:
        assert (graph.num_nodes(), graph.num_edges()) == (67, 1120)
    for (w, b), (w_rebuilt, b_rebuilt) in zip(weights, rebuild_weights(graph, 1, sizes)):
        assert torch.equal(w_rebuilt, w)
        assert torch.equal(b_rebuilt, b)
    inputs = graph.ndata["layer"] == 0
    assert inputs.sum() == sizes[0]
    assert torch.equal(graph.ndata["bias"][inputs], torch.zeros(sizes[0]))


@pytest.mark.parametrize("sizes", [MNIST_SIREN, CIFAR_SIREN])
def test_positions_tell_apart_inputs_and_outputs_but_not_hidden_neurons(sizes):
    graph = build_graphs(random_weights(sizes, 1))
    layer, position = graph.ndata["layer"], graph.ndata["position"]
    n_in, n_out, last = sizes[0], sizes[-1], len(sizes) - 1
    assert torch.equal(position[layer == 0], torch.arange(n_in))
    assert torch.equal(position[layer == last], n_in + torch.arange(n_out))
    hidden = (layer > 0) & (layer < last)
    assert torch.equal(position[hidden], torch.full((int(hidden.sum()),), n_in + n_out))
    assert layout(sizes).num_positions == n_in + n_out + 1


@pytest.mark.parametrize("sizes", [MNIST_SIREN, CIFAR_SIREN])
def test_edge_features_are_the_weight_matrices_flattened_row_major(sizes):
    weights = random_weights(sizes, 2)
    graph = build_graphs(weights)
    per_graph = graph.edata["weight"].reshape(2, -1)
    assert torch.equal(per_graph, torch.cat([w.reshape(2, -1) for w, _ in weights], dim=1))


@pytest.mark.parametrize("n", [5, 256])
def test_batched_graph_holds_every_siren(n):
    weights = random_weights(MNIST_SIREN, n, seed=n)
    graph = build_graphs(weights)
    assert graph.batch_size == n
    assert graph.num_nodes() == n * 67
    assert graph.num_edges() == n * 1120
    assert torch.equal(graph.batch_num_nodes(), torch.full((n,), 67))
    assert torch.equal(graph.batch_num_edges(), torch.full((n,), 1120))
    for (w, b), (w_rebuilt, b_rebuilt) in zip(weights, rebuild_weights(graph, n, MNIST_SIREN)):
        assert torch.equal(w_rebuilt, w)
        assert torch.equal(b_rebuilt, b)


def test_batched_cifar_graph_and_float64_weights_kept_exactly():
    weights = random_weights(CIFAR_SIREN, 3, dtype=torch.float64)
    graph = build_graphs(weights)
    assert graph.edata["weight"].dtype == torch.float64
    assert torch.equal(graph.batch_num_nodes(), torch.full((3,), 69))
    for (w, b), (w_rebuilt, b_rebuilt) in zip(weights, rebuild_weights(graph, 3, CIFAR_SIREN)):
        assert torch.equal(w_rebuilt, w)
        assert torch.equal(b_rebuilt, b)


def test_graph_batch_degrees_and_graph_ids():
    n = 3
    batch = GraphBatch.from_dgl(build_graphs(random_weights(MNIST_SIREN, n)))
    expected_in = torch.tensor([0] * 2 + [2] * 32 + [32] * 32 + [32])
    expected_out = torch.tensor([32] * 2 + [32] * 32 + [1] * 32 + [0])
    assert torch.equal(batch.in_degree, expected_in.repeat(n))
    assert torch.equal(batch.out_degree, expected_out.repeat(n))
    assert torch.equal(batch.node_graph, torch.arange(n).repeat_interleave(67))
    assert batch.num_graphs == n
    assert torch.equal(batch.in_degree, torch.bincount(batch.dst, minlength=n * 67))
