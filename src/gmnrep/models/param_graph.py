"""Parameter graphs of SIRENs (the graph of Lim et al. 2024), built and batched with DGL.

One node per neuron, inputs and outputs included; one edge per weight, directed from the input
neuron to the output neuron, with the weight as edge feature; the bias as node feature (0 for
input neurons). Nodes also carry their layer index and a position id: input and output neurons
each have their own id (their order means something), while every hidden neuron shares one id, so
the features cannot tell hidden neurons of a layer apart, which is what makes a GMN invariant to
their permutation.

Order, fixed by the layer sizes alone: nodes layer by layer (input side first), neurons in order
within a layer; edges layer pair by layer pair, then by output neuron, then by input neuron, so a
graph's edge features are its weight matrices flattened row-major. Every graph of a batch has the
same layout, so a batch is the layout repeated with offsets: no Python loop over graphs or edges.

DGL builds and batches the graphs on the CPU; `GraphBatch.from_dgl` takes out the plain tensors
(edge index, features, degrees) that the GMN's message passing runs on, on any device. DGL is
imported only when a graph is built: the dense GMN, which never builds one, runs where DGL is not
installed (GPU hosts: bench/gpu_check.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    import dgl

Weights = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: W (n, out, in), b (n, out)


@dataclass(frozen=True)
class GraphLayout:
    """Node and edge bookkeeping shared by every parameter graph of one SIREN architecture."""

    layer_sizes: tuple[int, ...]
    node_layer: torch.Tensor  # (nodes,) layer of each neuron, 0 = inputs
    node_position: torch.Tensor  # (nodes,) input i -> i, output o -> n_in + o, hidden -> n_in + n_out
    edge_layer: torch.Tensor  # (edges,) layer pair l: from layer l to layer l + 1
    src: torch.Tensor  # (edges,)
    dst: torch.Tensor  # (edges,)

    @property
    def num_nodes(self) -> int:
        return len(self.node_layer)

    @property
    def num_edges(self) -> int:
        return len(self.src)

    @property
    def num_positions(self) -> int:
        return self.layer_sizes[0] + self.layer_sizes[-1] + 1


@lru_cache(maxsize=16)
def layout(layer_sizes: tuple[int, ...]) -> GraphLayout:
    sizes = torch.tensor(layer_sizes)
    first_node = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]])
    node_layer = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
    n_in, n_out = layer_sizes[0], layer_sizes[-1]
    node_position = torch.full((int(sizes.sum()),), n_in + n_out)
    node_position[:n_in] = torch.arange(n_in)
    node_position[-n_out:] = n_in + torch.arange(n_out)
    src, dst, edge_layer = [], [], []
    for pair, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        out_idx, in_idx = torch.meshgrid(torch.arange(fan_out), torch.arange(fan_in), indexing="ij")
        src.append(first_node[pair] + in_idx.reshape(-1))
        dst.append(first_node[pair + 1] + out_idx.reshape(-1))
        edge_layer.append(torch.full((fan_in * fan_out,), pair))
    return GraphLayout(
        tuple(layer_sizes), node_layer, node_position, torch.cat(edge_layer), torch.cat(src), torch.cat(dst)
    )


def layer_sizes_of(weights: Weights) -> tuple[int, ...]:
    return (weights[0][0].shape[2], *(w.shape[1] for w, _ in weights))


def check_layer_sizes(weights: Weights, layer_sizes: tuple[int, ...], network: str) -> None:
    """ValueError unless `weights` are those of SIRENs with the `layer_sizes` that `network` was built for."""
    if layer_sizes_of(weights) != tuple(layer_sizes):
        raise ValueError(f"weights of a {layer_sizes_of(weights)} SIREN given to {network} for {tuple(layer_sizes)}")


def edge_weights(weights: Weights) -> torch.Tensor:
    """(n, edges): each graph's edge features in layout order."""
    return torch.cat([w.reshape(w.shape[0], -1) for w, _ in weights], dim=1)


def node_biases(weights: Weights) -> torch.Tensor:
    """(n, nodes): each graph's node features in layout order, 0 for the input neurons."""
    w0 = weights[0][0]
    inputs = torch.zeros(w0.shape[0], w0.shape[2], dtype=w0.dtype, device=w0.device)
    return torch.cat([inputs, *(b for _, b in weights)], dim=1)


def build_graphs(weights: Weights) -> dgl.DGLGraph:
    """One batched DGL graph of the n SIRENs stacked in `weights` (a single SIREN is n = 1)."""
    os.environ.setdefault("DGLBACKEND", "pytorch")  # DGL reads it at import
    import dgl

    n = weights[0][0].shape[0]
    lay = layout(layer_sizes_of(weights))
    offsets = torch.arange(n) * lay.num_nodes
    src = (lay.src[None, :] + offsets[:, None]).reshape(-1)
    dst = (lay.dst[None, :] + offsets[:, None]).reshape(-1)
    graph = dgl.graph((src, dst), num_nodes=n * lay.num_nodes)
    graph.ndata["bias"] = node_biases([(w.cpu(), b.cpu()) for w, b in weights]).reshape(-1)
    graph.ndata["layer"] = lay.node_layer.repeat(n)
    graph.ndata["position"] = lay.node_position.repeat(n)
    graph.edata["weight"] = edge_weights([(w.cpu(), b.cpu()) for w, b in weights]).reshape(-1)
    graph.edata["layer"] = lay.edge_layer.repeat(n)
    graph.set_batch_num_nodes(torch.full((n,), lay.num_nodes))
    graph.set_batch_num_edges(torch.full((n,), lay.num_edges))
    return graph


@dataclass
class GraphBatch:
    """The plain tensors of a batched parameter graph: what message passing needs, on any device."""

    src: torch.Tensor
    dst: torch.Tensor
    node_bias: torch.Tensor
    node_layer: torch.Tensor
    node_position: torch.Tensor
    edge_weight: torch.Tensor
    edge_layer: torch.Tensor
    in_degree: torch.Tensor
    out_degree: torch.Tensor
    node_graph: torch.Tensor  # (nodes,) which graph of the batch each node belongs to
    num_graphs: int

    @classmethod
    def from_dgl(cls, graph: dgl.DGLGraph) -> GraphBatch:
        src, dst = graph.edges(order="eid")
        counts = graph.batch_num_nodes()
        return cls(
            src=src,
            dst=dst,
            node_bias=graph.ndata["bias"],
            node_layer=graph.ndata["layer"],
            node_position=graph.ndata["position"],
            edge_weight=graph.edata["weight"],
            edge_layer=graph.edata["layer"],
            in_degree=graph.in_degrees(),
            out_degree=graph.out_degrees(),
            node_graph=torch.repeat_interleave(torch.arange(len(counts)), counts),
            num_graphs=len(counts),
        )

    def to(self, device: torch.device | str) -> GraphBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        moved.update({k: v.to(device) for k, v in moved.items() if isinstance(v, torch.Tensor)})
        return GraphBatch(**moved)
