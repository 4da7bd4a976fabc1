"""The weight-space baseline every metanetwork paper reports: an MLP on an INR's weights and biases
flattened into one vector (DWSNets' MLPModelForClassification, AvivNavon/DWSNets nn/models.py, at
the settings of its INR classification trainer: width 32, four hidden blocks, BatchNorm).

Each entry of the vector is standardised with its own mean and standard deviation over the
training INRs (`set_input_statistics`; DWSNets' `normalize`), then: Linear and ReLU, `blocks` x
(Linear, BatchNorm, ReLU), the classifier. It reads every weight at a fixed position, so it is not
invariant to any symmetry of the SIREN: permuting hidden neurons changes its output.

Representation layers: the output of the first layer, then of each block, the last being the
penultimate layer.
"""

import torch
from torch import nn

from gmnrep.models.param_graph import Weights, check_layer_sizes


def flatten(weights: Weights) -> torch.Tensor:
    """(n, parameters): every weight matrix row-major, then every bias vector, as DWSNets orders them."""
    return torch.cat([w.flatten(1) for w, _ in weights] + [b for _, b in weights], dim=1)


class FlatMLP(nn.Module):
    def __init__(
        self, layer_sizes: tuple[int, ...], num_classes: int, hidden: int = 32, blocks: int = 4, batch_norm=True
    ):
        super().__init__()
        self.layer_sizes = tuple(layer_sizes)
        parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))
        self.register_buffer("input_mean", torch.zeros(parameters))
        self.register_buffer("input_std", torch.ones(parameters))
        norm = nn.BatchNorm1d if batch_norm else nn.Identity
        self.layers = nn.ModuleList(
            [nn.Sequential(nn.Linear(parameters, hidden), nn.ReLU())]
            + [nn.Sequential(nn.Linear(hidden, hidden), norm(hidden), nn.ReLU()) for _ in range(blocks)]
        )
        self.classifier = nn.Linear(hidden, num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @torch.no_grad()
    def set_input_statistics(self, weights: Weights) -> None:
        """Standardise each entry with its mean and standard deviation over these (training-set) INRs."""
        flat = flatten(weights).double()
        self.input_mean.copy_(flat.mean(0))
        self.input_std.copy_(flat.std(0).clamp(min=1e-12))  # an entry constant over the INRs is centred only

    def forward(self, weights: Weights) -> torch.Tensor:
        return self.representations(weights)[0]

    def representations(self, weights: Weights) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers 1..blocks + 1, each (batch, hidden)."""
        check_layer_sizes(weights, self.layer_sizes, "a flat MLP")
        x = (flatten(weights) - self.input_mean) / self.input_std
        layers = []
        for layer in self.layers:
            x = layer(x)
            layers.append(x)
        return self.classifier(x), layers
