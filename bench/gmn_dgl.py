"""The GMN's edge-updating block written with DGL's message passing API (CPU only).

It exists to check the plain-torch forms of `gmn.EdgeUpdatingBlock` against an independent
implementation (the tests), and as the baseline they are measured against
(bench/gmn_throughput.py). It creates no parameters: it runs those of a given block, so both
compute the same function and their gradients reach the same tensors.

Variants:
- "straightforward": the usual way to write it in DGL: an apply_edges UDF applies the edge MLP to
  the concatenation [h_u, h_v, e], message UDFs apply theirs to [h_u, e] (forward, on the graph)
  and [h_v, e] (backward, on the reversed graph), and `fn.mean` averages the messages. The
  weights on the concatenations are assembled from the block's pieces.
- "split": the node terms computed once per node and added onto the edges with DGL builtins
  (u_add_v, u_add_e, v_add_e), messages averaged with copy_e + mean: the best plain DGL version.
"""

import dgl  # noqa: E402, I001
import torch
import torch.nn.functional as F
from dgl import function as fn  # noqa: E402

from gmnrep.models.gmn import GMN, EdgeUpdatingBlock
from gmnrep.models.param_graph import (  # sets DGLBACKEND before DGL loads
    GraphBatch,
    Weights,
    build_graphs,
)

VARIANTS = ("straightforward", "split")


def dgl_block_forward(
    block: EdgeUpdatingBlock,
    graph: dgl.DGLGraph,
    h: torch.Tensor,
    e: torch.Tensor,
    variant: str,
    reverse: dgl.DGLGraph | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """New (node, edge) features of `block` on a (batched) parameter graph.

    `reverse`: dgl.reverse(graph), which carries the backward messages (DGL only sends messages
    along edges); pass it to reuse it across blocks.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
    reverse = dgl.reverse(graph) if reverse is None else reverse
    run = _straightforward if variant == "straightforward" else _split
    with graph.local_scope(), reverse.local_scope():  # leave the caller's graphs as they were
        forward_mean, backward_mean, e = run(block, graph, reverse, h, e)
    return block.update_nodes(h, forward_mean, backward_mean), e


def _straightforward(block, graph, reverse, h, e):
    a, b, p, r = block.node_terms.weight.chunk(4)
    q, s = block.message.weight.chunk(2)
    q_bias, s_bias = block.message.bias.chunk(2)
    edge_weight = torch.cat([a, b, block.edge_in.weight], dim=1)  # acts on [h_u, h_v, e]

    def update_edges(edges):
        inputs = torch.cat([edges.src["h"], edges.dst["h"], edges.data["e"]], dim=-1)
        z = F.linear(inputs, edge_weight, block.edge_in.bias)
        return {"e": block.edge_norm(edges.data["e"] + block.edge_out(F.silu(z)))}

    def message(weight, bias):  # acts on [h of the sending node, e]
        return lambda edges: {"m": F.silu(F.linear(torch.cat([edges.src["h"], edges.data["e"]], dim=-1), weight, bias))}

    graph.ndata["h"], graph.edata["e"] = h, e
    graph.apply_edges(update_edges)
    graph.update_all(message(torch.cat([p, q], dim=1), q_bias), fn.mean("m", "forward"))
    reverse.ndata["h"], reverse.edata["e"] = h, graph.edata["e"]  # dgl.reverse keeps edge ids
    reverse.update_all(message(torch.cat([r, s], dim=1), s_bias), fn.mean("m", "backward"))
    return graph.ndata["forward"], reverse.ndata["backward"], graph.edata["e"]


def _split(block, graph, reverse, h, e):
    graph.ndata["a"], graph.ndata["b"], graph.ndata["p"], graph.ndata["r"] = block.node_terms(h).chunk(4, dim=-1)
    graph.apply_edges(fn.u_add_v("a", "b", "ab"))
    # block.update_edges with A h_u + B h_v as one term (passing 0 for the other costs an edge-sized add)
    e = block.edge_norm(e + block.edge_out(F.silu(block.edge_in(e) + graph.edata["ab"])))
    # the message Linear on weight slices: contiguous halves for DGL's kernels, no cat in backward
    q, s = block.message.weight.chunk(2)
    q_bias, s_bias = block.message.bias.chunk(2)
    graph.edata["q"], graph.edata["s"] = F.linear(e, q, q_bias), F.linear(e, s, s_bias)
    graph.apply_edges(fn.u_add_e("p", "q", "forward"))
    graph.apply_edges(fn.v_add_e("r", "s", "backward"))
    graph.edata["forward"] = F.silu(graph.edata["forward"])
    reverse.edata["backward"] = F.silu(graph.edata["backward"])
    graph.update_all(fn.copy_e("forward", "m"), fn.mean("m", "forward"))
    reverse.update_all(fn.copy_e("backward", "m"), fn.mean("m", "backward"))
    return graph.ndata["forward"], reverse.ndata["backward"], e


def dgl_representations(gmn: GMN, weights: Weights, variant: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """`gmn.representations(weights)` with the blocks run through DGL; encoders, readout and head
    are the GMN's own."""
    graph = build_graphs(weights)
    reverse = dgl.reverse(graph)

    def run_block(block, h, e):
        return dgl_block_forward(block, graph, h, e, variant, reverse)

    return gmn.head_outputs(gmn.edge_index_pooled(GraphBatch.from_dgl(graph), run_block))
