"""Graph metanetwork (GMN, Lim et al. 2024) over SIREN parameter graphs.

Encoders turn each node's bias, layer and position, and each edge's weight and layer pair, into
`hidden`-wide features. The scalar (standardised weight or bias) goes through one of
- `linear`: Linear(1, hidden);
- `sin`: Linear(1, hidden), sin, Linear(hidden, hidden) (the sine encoder of Lim et al.'s code);
- `rff`: random Fourier features [sin(2π f x), cos(2π f x)] of fixed frequencies f ~ N(0, σ²)
  (drawn once with the model's seed, kept in its state), then Linear (as neural-graphs);
and the layer / position / layer-pair embeddings are added. Each of `blocks` edge-updating blocks
then does, with LN a LayerNorm and σ the SiLU, for an edge u -> v (u on the input side) with
features e and nodes h:

    e   <- LN(e + U_e σ(C e + A h_u + B h_v))                         edge update
    fwd  = mean over edges u -> v of σ(Q e + P h_u)                    messages to v (forward)
    bwd  = mean over edges u -> v of σ(S e + R h_v)                    messages to u (backward)
    h   <- LN(h + U_h σ(X h + Y fwd + Z bwd))                          node update

The linear map of a concatenation [h_u, h_v, e] is written as a sum of per-node and per-edge terms,
so the node terms are computed once per node instead of once per edge (the same function, a
fraction of the work). Nodes without such edges (inputs have no forward, outputs no backward
messages) receive 0.

Readout: a pooling (mean, sum or max) that a permutation of hidden neurons cannot change, over
- `nodes`: every node of the graph;
- `output`: the output-layer nodes (neural-graphs' readout);
- `nodes_edges`: every node and, concatenated, every edge (node + edge pooling, as ScaleGMN).
The readout applied after block l is representation layer l. A head of `head_layers` hidden
layers (Linear + SiLU, dropout between) follows; its last hidden layer is representation layer
blocks + 1, then dropout and a linear map give the class logits. `block_dropout` applies dropout
to each block's edge and node updates before their residual sums.

The message passing is plain torch, in two equivalent forms:
- edge index: on a batched DGL graph's edge list (`param_graph.GraphBatch`), with gathers and
  index_add_, for any graph;
- dense: every INR of a dataset has the same architecture, so the edges of layer pair l are a
  (batch, out, in, hidden) tensor and the gathers become broadcasts and the means reductions.
The dense form is the default: it needs no graph at all and is measured faster
(bench/gmn_throughput.py); tests check that both forms compute the same function.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gmnrep.models.param_graph import (
    GraphBatch,
    Weights,
    build_graphs,
    check_layer_sizes,
    layout,
)

FORMS = ("dense", "edge_index")
ENCODERS = ("linear", "sin", "rff")
READOUTS = ("nodes", "output", "nodes_edges")
POOLINGS = ("mean", "sum", "max")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {value!r}")


class ScalarEncoder(nn.Module):
    """Features of a tensor of scalars: (...) -> (..., hidden), elementwise (see the module doc)."""

    def __init__(self, kind: str, hidden: int, rff_features: int = 64, rff_sigma: float = 3.0):
        super().__init__()
        _check_choice("encoder", kind, ENCODERS)
        self.kind = kind
        if kind == "rff":
            self.register_buffer("frequencies", torch.randn(rff_features) * rff_sigma)
            self.project = nn.Linear(2 * rff_features, hidden)
        else:
            self.project = nn.Linear(1, hidden)
        self.mix = nn.Linear(hidden, hidden) if kind == "sin" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "rff":
            angles = (2 * torch.pi) * x[..., None] * self.frequencies
            return self.project(torch.cat([angles.sin(), angles.cos()], dim=-1))
        features = self.project(x[..., None])
        return self.mix(torch.sin(features)) if self.kind == "sin" else features


def _pool_into(values: torch.Tensor, graph_of: torch.Tensor, num_graphs: int, pooling: str) -> torch.Tensor:
    """Pool rows of `values` by the graph each belongs to."""
    if pooling == "max":
        index = graph_of[:, None].expand_as(values)
        return values.new_full((num_graphs, values.shape[1]), -torch.inf).scatter_reduce_(0, index, values, "amax")
    if pooling == "mean":
        return _mean_into(values, graph_of, torch.bincount(graph_of, minlength=num_graphs), num_graphs)
    return values.new_zeros(num_graphs, values.shape[1]).index_add_(0, graph_of, values)


def _pool_dense(parts: list[torch.Tensor], pooling: str) -> torch.Tensor:
    """Pool (batch, ..., hidden) tensors over every position of all of them."""
    flat = torch.cat([p.flatten(1, -2) for p in parts], dim=1)
    if pooling == "max":
        return flat.amax(dim=1)
    return flat.sum(dim=1) if pooling == "sum" else flat.mean(dim=1)


def _mean_into(values: torch.Tensor, index: torch.Tensor, degree: torch.Tensor, num: int) -> torch.Tensor:
    total = values.new_zeros(num, values.shape[1]).index_add_(0, index, values)
    return total / degree.clamp(min=1).to(values.dtype)[:, None]


class EdgeUpdatingBlock(nn.Module):
    def __init__(self, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.node_terms = nn.Linear(hidden, 4 * hidden, bias=False)  # A, B, P, R
        self.edge_in = nn.Linear(hidden, hidden)  # C
        self.edge_out = nn.Linear(hidden, hidden)  # U_e
        self.edge_norm = nn.LayerNorm(hidden)
        self.message = nn.Linear(hidden, 2 * hidden)  # Q, S
        self.node_in = nn.Linear(3 * hidden, hidden)  # X, Y, Z
        self.node_out = nn.Linear(hidden, hidden)  # U_h
        self.node_norm = nn.LayerNorm(hidden)

    def update_edges(self, e, src_term, dst_term):
        return self.edge_norm(e + self.dropout(self.edge_out(F.silu(self.edge_in(e) + src_term + dst_term))))

    def messages(self, e, forward_src_term, backward_dst_term):
        forward, backward = self.message(e).chunk(2, dim=-1)
        return F.silu(forward + forward_src_term), F.silu(backward + backward_dst_term)

    def update_nodes(self, h, forward_mean, backward_mean):
        update = self.node_out(F.silu(self.node_in(torch.cat([h, forward_mean, backward_mean], dim=-1))))
        return self.node_norm(h + self.dropout(update))

    def forward_edges(self, h: torch.Tensor, e: torch.Tensor, graph: GraphBatch):
        a, b, p, r = self.node_terms(h).chunk(4, dim=-1)
        e = self.update_edges(e, a[graph.src], b[graph.dst])
        forward, backward = self.messages(e, p[graph.src], r[graph.dst])
        forward_mean = _mean_into(forward, graph.dst, graph.in_degree, len(h))
        backward_mean = _mean_into(backward, graph.src, graph.out_degree, len(h))
        return self.update_nodes(h, forward_mean, backward_mean), e

    def forward_dense(self, hs: list[torch.Tensor], es: list[torch.Tensor]):
        """hs[l]: (batch, n_l, hidden) nodes of layer l; es[l]: (batch, n_{l+1}, n_l, hidden)."""
        terms = [self.node_terms(h).chunk(4, dim=-1) for h in hs]
        forward_means, backward_means, new_es = [torch.zeros_like(hs[0])], [], []
        for pair, e in enumerate(es):
            a, _, p, _ = terms[pair]
            _, b, _, r = terms[pair + 1]
            e = self.update_edges(e, a[:, None], b[:, :, None])
            forward, backward = self.messages(e, p[:, None], r[:, :, None])
            forward_means.append(forward.mean(dim=2))
            backward_means.append(backward.mean(dim=1))
            new_es.append(e)
        backward_means.append(torch.zeros_like(hs[-1]))
        return [self.update_nodes(*args) for args in zip(hs, forward_means, backward_means)], new_es


class GMN(nn.Module):
    def __init__(
        self,
        layer_sizes: tuple[int, ...],
        num_classes: int,
        hidden: int = 64,
        blocks: int = 4,
        readout: str = "nodes",
        pooling: str = "mean",
        head_hidden: int = 64,
        head_layers: int = 1,
        dropout: float = 0.0,
        block_dropout: float = 0.0,
        encoder: str = "linear",
        rff_features: int = 64,
        rff_sigma: float = 3.0,
        form: str = "dense",
    ):
        super().__init__()
        for name, value, choices in (
            ("readout", readout, READOUTS),
            ("pooling", pooling, POOLINGS),
            ("form", form, FORMS),
        ):
            _check_choice(name, value, choices)
        self.layer_sizes, self.readout, self.pooling, self.form = tuple(layer_sizes), readout, pooling, form
        self.layout = layout(self.layer_sizes)
        num_pairs = len(layer_sizes) - 1
        # Per layer pair: mean and std of the weights, then of the biases, over the training set.
        self.register_buffer("input_stats", torch.tensor([[0.0, 1.0, 0.0, 1.0]] * num_pairs))
        self.bias_encoder = ScalarEncoder(encoder, hidden, rff_features, rff_sigma)
        self.layer_embedding = nn.Embedding(len(layer_sizes), hidden)
        self.position_embedding = nn.Embedding(self.layout.num_positions, hidden)
        self.weight_encoder = ScalarEncoder(encoder, hidden, rff_features, rff_sigma)
        self.pair_embedding = nn.Embedding(num_pairs, hidden)
        self.blocks = nn.ModuleList(EdgeUpdatingBlock(hidden, block_dropout) for _ in range(blocks))
        head, width = [], hidden * (2 if readout == "nodes_edges" else 1)
        for layer in range(head_layers):
            head += [nn.Dropout(dropout)] if layer else []
            head += [nn.Linear(width if layer == 0 else head_hidden, head_hidden), nn.SiLU()]
        self.head = nn.Sequential(*head)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_hidden, num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.blocks) + 1

    @torch.no_grad()
    def set_input_statistics(self, weights: Weights) -> None:
        """Standardise each layer pair's weights and biases with these (training-set) statistics;
        one affine map per layer pair, so the permutation symmetry is kept."""
        stats = torch.tensor([[t.double().mean(), t.double().std()] for w, b in weights for t in (w, b)])
        stats[:, 1] = stats[:, 1].clamp(min=1e-12)  # a constant layer is centred, not divided by 0
        self.input_stats.copy_(stats.reshape(-1, 4))

    def forward(self, inputs: Weights | GraphBatch) -> torch.Tensor:
        return self.representations(inputs)[0]

    def representations(self, inputs: Weights | GraphBatch) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers 1..blocks + 1, each (batch, features).

        `inputs`: a weight stack (run in `self.form`) or a GraphBatch (run in the edge-index form).
        """
        if isinstance(inputs, GraphBatch):
            pooled = self.edge_index_pooled(inputs)
        elif self.form == "dense":
            pooled = self._dense_form(inputs)
        else:
            device = inputs[0][0].device
            pooled = self.edge_index_pooled(GraphBatch.from_dgl(build_graphs(inputs)).to(device))
        return self.head_outputs(pooled)

    def head_outputs(self, pooled: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and all representation layers from the pooled features after each block."""
        penultimate = self.head(pooled[-1])
        return self.classifier(self.dropout(penultimate)), [*pooled, penultimate]

    # Embedding rows are indexed directly, so the dense form can broadcast one row over a layer.
    def _encode_nodes(self, bias, layer, position):
        mean, std = self.input_stats[:, 2], self.input_stats[:, 3]
        pair = (layer - 1).clamp(min=0)
        standardised = torch.where(layer == 0, torch.zeros_like(bias), (bias - mean[pair]) / std[pair])
        embedding = self.layer_embedding.weight[layer] + self.position_embedding.weight[position]
        return self.bias_encoder(standardised) + embedding

    def _encode_edges(self, weight, pair):
        mean, std = self.input_stats[:, 0], self.input_stats[:, 1]
        standardised = (weight - mean[pair]) / std[pair]
        return self.weight_encoder(standardised) + self.pair_embedding.weight[pair]

    def edge_index_pooled(self, graph: GraphBatch, run_block: Callable | None = None) -> list[torch.Tensor]:
        """Pooled node features after each block, computed on the edge list of `graph`.

        `run_block(block, h, e) -> (h, e)` replaces `block.forward_edges` (gmn_dgl runs the
        blocks through DGL with it)."""
        h = self._encode_nodes(graph.node_bias, graph.node_layer, graph.node_position)
        e = self._encode_edges(graph.edge_weight, graph.edge_layer)
        pooled = []
        for block in self.blocks:
            h, e = run_block(block, h, e) if run_block else block.forward_edges(h, e, graph)
            pooled.append(self._readout_edge_index(h, e, graph))
        return pooled

    def _readout_edge_index(self, h: torch.Tensor, e: torch.Tensor, graph: GraphBatch) -> torch.Tensor:
        if self.readout == "output":
            outputs = graph.node_layer == len(self.layer_sizes) - 1
            return _pool_into(h[outputs], graph.node_graph[outputs], graph.num_graphs, self.pooling)
        nodes = _pool_into(h, graph.node_graph, graph.num_graphs, self.pooling)
        if self.readout == "nodes":
            return nodes
        return torch.cat([nodes, _pool_into(e, graph.node_graph[graph.src], graph.num_graphs, self.pooling)], dim=1)

    def _dense_form(self, weights: Weights) -> list[torch.Tensor]:
        check_layer_sizes(weights, self.layer_sizes, "a GMN")
        w0 = weights[0][0]
        device, batch = w0.device, w0.shape[0]
        position = self.layout.node_position.to(device)
        bounds = [0, *torch.tensor(self.layer_sizes).cumsum(0).tolist()]
        biases = [torch.zeros(batch, self.layer_sizes[0], dtype=w0.dtype, device=device), *(b for _, b in weights)]
        hs = [
            self._encode_nodes(b, torch.tensor(layer, device=device), position[lo:hi])
            for layer, (b, lo, hi) in enumerate(zip(biases, bounds[:-1], bounds[1:]))
        ]
        es = [self._encode_edges(w, torch.tensor(pair, device=device)) for pair, (w, _) in enumerate(weights)]
        pooled = []
        for block in self.blocks:
            hs, es = block.forward_dense(hs, es)
            pooled.append(self._readout_dense(hs, es))
        return pooled

    def _readout_dense(self, hs: list[torch.Tensor], es: list[torch.Tensor]) -> torch.Tensor:
        if self.readout == "output":
            return _pool_dense(hs[-1:], self.pooling)
        nodes = _pool_dense(hs, self.pooling)
        return nodes if self.readout == "nodes" else torch.cat([nodes, _pool_dense(es, self.pooling)], dim=1)
