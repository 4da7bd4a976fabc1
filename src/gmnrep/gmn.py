"""Graph metanetwork (GMN, Lim et al. 2024) over SIREN parameter graphs.

Encoders turn each node's bias, layer and position, and each edge's weight and layer pair, into
`hidden`-wide features. Each of `blocks` edge-updating blocks then does, with LN a LayerNorm and
σ the SiLU, for an edge u -> v (u on the input side) with features e and nodes h:

    e   <- LN(e + U_e σ(C e + A h_u + B h_v))                         edge update
    fwd  = mean over edges u -> v of σ(Q e + P h_u)                    messages to v (forward)
    bwd  = mean over edges u -> v of σ(S e + R h_v)                    messages to u (backward)
    h   <- LN(h + U_h σ(X h + Y fwd + Z bwd))                          node update

The linear map of a concatenation [h_u, h_v, e] is written as a sum of per-node and per-edge terms,
so the node terms are computed once per node instead of once per edge (the same function, a
fraction of the work). Nodes without such edges (inputs have no forward, outputs no backward
messages) receive 0.

Readout: a pooling (mean, sum or max) over all nodes of a graph, which a permutation of hidden
neurons cannot change. The pooled features after block l are representation layer l; an MLP head's
hidden layer is representation layer blocks + 1, then a linear map gives the class logits.

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

from .param_graph import GraphBatch, Weights, build_graphs, layer_sizes_of, layout

FORMS = ("dense", "edge_index")
READOUTS = ("mean", "sum", "max")


def _mean_into(values: torch.Tensor, index: torch.Tensor, degree: torch.Tensor, num: int) -> torch.Tensor:
    total = values.new_zeros(num, values.shape[1]).index_add_(0, index, values)
    return total / degree.clamp(min=1).to(values.dtype)[:, None]


class EdgeUpdatingBlock(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.node_terms = nn.Linear(hidden, 4 * hidden, bias=False)  # A, B, P, R
        self.edge_in = nn.Linear(hidden, hidden)  # C
        self.edge_out = nn.Linear(hidden, hidden)  # U_e
        self.edge_norm = nn.LayerNorm(hidden)
        self.message = nn.Linear(hidden, 2 * hidden)  # Q, S
        self.node_in = nn.Linear(3 * hidden, hidden)  # X, Y, Z
        self.node_out = nn.Linear(hidden, hidden)  # U_h
        self.node_norm = nn.LayerNorm(hidden)

    def update_edges(self, e, src_term, dst_term):
        return self.edge_norm(e + self.edge_out(F.silu(self.edge_in(e) + src_term + dst_term)))

    def messages(self, e, forward_src_term, backward_dst_term):
        forward, backward = self.message(e).chunk(2, dim=-1)
        return F.silu(forward + forward_src_term), F.silu(backward + backward_dst_term)

    def update_nodes(self, h, forward_mean, backward_mean):
        update = self.node_out(F.silu(self.node_in(torch.cat([h, forward_mean, backward_mean], dim=-1))))
        return self.node_norm(h + update)

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
        readout: str = "mean",
        head_hidden: int = 64,
        dropout: float = 0.0,
        form: str = "dense",
    ):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, not {readout!r}")
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, not {form!r}")
        self.layer_sizes, self.readout, self.form = tuple(layer_sizes), readout, form
        self.layout = layout(self.layer_sizes)
        num_pairs = len(layer_sizes) - 1
        # Per layer pair: mean and std of the weights, then of the biases, over the training set.
        self.register_buffer("input_stats", torch.tensor([[0.0, 1.0, 0.0, 1.0]] * num_pairs))
        self.bias_encoder = nn.Linear(1, hidden)
        self.layer_embedding = nn.Embedding(len(layer_sizes), hidden)
        self.position_embedding = nn.Embedding(self.layout.num_positions, hidden)
        self.weight_encoder = nn.Linear(1, hidden)
        self.pair_embedding = nn.Embedding(num_pairs, hidden)
        self.blocks = nn.ModuleList(EdgeUpdatingBlock(hidden) for _ in range(blocks))
        self.head = nn.Sequential(nn.Linear(hidden, head_hidden), nn.SiLU())
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
        return self.bias_encoder(standardised[..., None]) + embedding

    def _encode_edges(self, weight, pair):
        mean, std = self.input_stats[:, 0], self.input_stats[:, 1]
        standardised = (weight - mean[pair]) / std[pair]
        return self.weight_encoder(standardised[..., None]) + self.pair_embedding.weight[pair]

    def edge_index_pooled(self, graph: GraphBatch, run_block: Callable | None = None) -> list[torch.Tensor]:
        """Pooled node features after each block, computed on the edge list of `graph`.

        `run_block(block, h, e) -> (h, e)` replaces `block.forward_edges` (gmn_dgl runs the
        blocks through DGL with it)."""
        h = self._encode_nodes(graph.node_bias, graph.node_layer, graph.node_position)
        e = self._encode_edges(graph.edge_weight, graph.edge_layer)
        pooled = []
        for block in self.blocks:
            h, e = run_block(block, h, e) if run_block else block.forward_edges(h, e, graph)
            pooled.append(self._pool_edge_index(h, graph))
        return pooled

    def _pool_edge_index(self, h: torch.Tensor, graph: GraphBatch) -> torch.Tensor:
        index = graph.node_graph[:, None].expand_as(h)
        if self.readout == "max":
            return h.new_full((graph.num_graphs, h.shape[1]), -torch.inf).scatter_reduce_(0, index, h, "amax")
        total = h.new_zeros(graph.num_graphs, h.shape[1]).index_add_(0, graph.node_graph, h)
        if self.readout == "sum":
            return total
        return total / torch.bincount(graph.node_graph, minlength=graph.num_graphs).to(h.dtype)[:, None]

    def _dense_form(self, weights: Weights) -> list[torch.Tensor]:
        if layer_sizes_of(weights) != self.layer_sizes:
            raise ValueError(f"weights of a {layer_sizes_of(weights)} SIREN given to a GMN for {self.layer_sizes}")
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
            pooled.append(_pool_dense(torch.cat(hs, dim=1), self.readout))
        return pooled


def _pool_dense(nodes: torch.Tensor, readout: str) -> torch.Tensor:
    if readout == "max":
        return nodes.amax(dim=1)
    return nodes.sum(dim=1) if readout == "sum" else nodes.mean(dim=1)
