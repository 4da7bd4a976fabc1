"""StatNN (Unterthiner et al. 2020): a network on statistics of the weights, not on the weights.

Per layer of the SIREN, of its weights and of its biases: mean, variance and the 0, 25, 50, 75 and
100% quantiles (the statistics of the NFN authors' StatNet, whose StatFeaturizer takes the sample
variance: NaN for a SIREN with one output, whose last bias is one number; the population variance
here is 0 there and differs elsewhere by a factor (k - 1) / k of the layer's k entries), then an MLP
of `hidden` ReLU layers with dropout after each, then the classifier. The statistics are invariant
to every permutation of the entries of a layer, hidden neurons included, but not to the sign
symmetry of sine layers (negating a neuron's weights moves the quantiles).

Representation layers: the statistics themselves (the same function for every seed: a network's
seed cannot change them), then each hidden layer, the last being the penultimate layer.
"""

import torch
from torch import nn

from gmnrep.models.param_graph import Weights, check_layer_sizes

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STATISTICS = 2 + len(QUANTILES)  # of each weight matrix and each bias vector


def weight_statistics(weights: Weights) -> torch.Tensor:
    """(n, 2 x STATISTICS x layers): per layer, of its weights then of its biases: mean, variance, quantiles."""
    columns = []
    for w, b in weights:
        for entries in (w.flatten(1), b):
            levels = torch.tensor(QUANTILES, dtype=entries.dtype, device=entries.device)
            quantiles = torch.quantile(entries, levels, dim=1).T
            columns += [entries.mean(1, keepdim=True), entries.var(1, correction=0, keepdim=True), quantiles]
    return torch.cat(columns, dim=1)


class StatNN(nn.Module):
    def __init__(self, layer_sizes: tuple[int, ...], num_classes: int, hidden=(1000, 1000), dropout: float = 0.0):
        super().__init__()
        self.layer_sizes = tuple(layer_sizes)
        widths = [2 * STATISTICS * (len(layer_sizes) - 1), *hidden]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)) for a, b in zip(widths, widths[1:])
        )
        self.classifier = nn.Linear(widths[-1], num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.blocks) + 1

    def forward(self, weights: Weights) -> torch.Tensor:
        return self.representations(weights)[0]

    def representations(self, weights: Weights) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers: the statistics, then each hidden layer."""
        check_layer_sizes(weights, self.layer_sizes, "a StatNN")
        x = weight_statistics(weights)
        layers = [x]
        for block in self.blocks:
            x = block(x)
            layers.append(x)
        return self.classifier(x), layers
