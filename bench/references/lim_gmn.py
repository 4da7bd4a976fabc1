"""Lim et al.'s graph metanetwork as their code builds it (cptq/graph_metanetworks, imported from a
checkout the user fetched), adapted to this pipeline's training, which bench/parity_gmn.py runs it
with: their repository holds the parameter-graph construction and the networks but no training loop.

What is theirs, unchanged: the parameter graph of the SIREN (gmn/graph_construct: a node per neuron
and per layer's bias, an edge per weight and per bias, each with its layer and type), the node and
edge feature encoder (gmn/encoders.py: NodeEdgeFeatEncoder, sine encoders of the values, layer and
neuron order, embeddings of the types), the EdgeMPNN (gmn/graph_models.py: edge and node MLPs, mean
aggregation, BatchNorm between layers) and the node-and-edge DeepSets readout
(gmn/graph_pooling.py: DSNodeEdgeReadout inside GNNwEdgeReadout), its last layer giving the logits.
What the adapter adds: batching the graphs of a batch of INRs, messages in both directions (every
edge also reversed, GraphPredGen's `undirected` option, as the pipeline's GMN), and optionally the
pipeline GMN's per-layer standardisation of weights and biases (`inputs: standardised`; their code
reads parameters as they are: `inputs: raw`). Their torch_scatter import is served by
torch-geometric's scatter (the stand-in beside this file).
"""

import sys
from pathlib import Path

import torch
from torch import nn

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture

HERE = Path(__file__).resolve().parent
INPUTS = ("raw", "standardised")


def architecture(checkout: Path) -> Architecture:
    """The declaration of the adapted network, for the registry of bench/parity_gmn.py's process."""

    def network():
        sys.path[:0] = [str(HERE), str(checkout)]
        return _network_class()

    return Architecture(
        name="limgmn",
        title="GMN (Lim et al.'s code)",
        family=WEIGHT_SPACE,
        inputs=WEIGHTS,
        network=network,
        depth_key="blocks",
        prepare="set_input_statistics",
        network_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["hidden", "blocks", "readout_layers", "inputs"],
            "properties": {
                "hidden": {"type": "integer", "minimum": 1},
                "blocks": {"type": "integer", "minimum": 2},
                "readout_layers": {"type": "integer", "minimum": 2},
                "inputs": {"enum": list(INPUTS)},
            },
        },
    )


def _network_class():
    from gmn.encoders import NodeEdgeFeatEncoder
    from gmn.graph_construct.model_arch_graph import arch_to_graph, sequential_to_arch
    from gmn.graph_models import EdgeMPNN
    from gmn.graph_pooling import DSNodeEdgeReadout, GNNwEdgeReadout

    class LimGMN(nn.Module):
        def __init__(self, layer_sizes, num_classes, hidden, blocks, readout_layers, inputs):
            super().__init__()
            self.standardise = inputs == "standardised"
            x, edge_index, edge_attr = _template_graph(layer_sizes, arch_to_graph, sequential_to_arch)
            self.register_buffer("node_features", x.float(), persistent=False)
            self.register_buffer("edge_index", edge_index, persistent=False)
            self.register_buffer("edge_attr", edge_attr, persistent=False)
            # which parameter (in the order: each layer's weights row by row, then its biases) each edge holds
            self.register_buffer("parameter_of_edge", edge_attr[:, 0].long() - 1, persistent=False)
            self.register_buffer("input_stats", torch.tensor([[0.0, 1.0, 0.0, 1.0]] * (len(layer_sizes) - 1)))
            self.encoder = NodeEdgeFeatEncoder(hidden, use_conv=False)
            gnn = EdgeMPNN(hidden, hidden, hidden, hidden, hidden, num_layers=blocks, reduce="mean")
            readout = DSNodeEdgeReadout(hidden, hidden, num_classes, num_layers=readout_layers)
            self.gnn_with_readout = GNNwEdgeReadout(gnn, readout, use_nodes=True)

        @torch.no_grad()
        def set_input_statistics(self, weights) -> None:
            """Per layer: mean and std of the weights, then of the biases, over the training INRs."""
            stats = torch.tensor([[t.double().mean(), t.double().std()] for w, b in weights for t in (w, b)])
            self.input_stats.copy_(stats.reshape(-1, 4))

        def forward(self, weights) -> torch.Tensor:
            parts = []
            for (w, b), (w_mean, w_std, b_mean, b_std) in zip(weights, self.input_stats):
                if self.standardise:
                    w, b = (w - w_mean) / w_std, (b - b_mean) / b_std
                parts += [w.flatten(1), b.flatten(1)]
            values = torch.cat(parts, 1)[:, self.parameter_of_edge]  # (batch, edges)
            count, nodes = len(values), len(self.node_features)
            offsets = torch.arange(count, device=values.device) * nodes
            edge_index = (self.edge_index[:, None, :] + offsets[None, :, None]).reshape(2, -1)
            edge_attr = self.edge_attr.repeat(count, 1)
            edge_attr[:, 0] = values.reshape(-1)
            x = self.node_features.repeat(count, 1)
            batch = torch.arange(count, device=values.device).repeat_interleave(nodes)
            x, edge_attr = self.encoder(x, edge_attr)
            edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
            edge_attr = torch.cat([edge_attr, edge_attr], 0)
            return self.gnn_with_readout(x, edge_index, edge_attr, batch)

    return LimGMN


def _template_graph(layer_sizes, arch_to_graph, sequential_to_arch):
    """Their parameter graph of a SIREN with these layer sizes whose parameters are numbered 1, 2, ...
    in the pipeline's order, so each edge's value names the parameter it holds."""
    layers = [nn.Linear(a, b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    number = 1
    with torch.no_grad():
        for layer in layers:
            for tensor in (layer.weight, layer.bias):
                tensor.copy_(torch.arange(number, number + tensor.numel()).reshape(tensor.shape))
                number += tensor.numel()
        x, edge_index, edge_attr = arch_to_graph(sequential_to_arch(nn.Sequential(*layers)))
    held = torch.sort(edge_attr[:, 0].long()).values
    if not torch.equal(held, torch.arange(1, number)):
        raise ValueError("the reference's parameter graph does not hold each parameter on exactly one edge")
    return x, edge_index, edge_attr
