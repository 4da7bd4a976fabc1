"""Neural functionals (Zhou et al., NeurIPS 2023) on the INRs' weights, built from the authors' layer
library (the `nfn` package): the invariant NFN of their SIREN classification experiments
(AllanYangZhou/nfn, experiments/models.py InvariantNFN with classify_siren_configs/nfnet/inv_ff_io).

Each weight and bias of a SIREN is one entry of a weight-space feature with channels. The input's
single channel is lifted by random Fourier features (GaussianFourierFeatureTransform: `fourier_features`
frequencies ~ N(0, `fourier_scale`^2), sin and cos of each) and given a sinusoidal code of its input
and output neuron (IOSinusoidalEncoding without the layer code, as inv_ff_io), which breaks the
symmetry of the input and output neurons: these keep their order, only hidden neurons may be
permuted. Then len(`hchannels`) neuron-permutation-equivariant linear layers (NPLinear, each
followed by a ReLU), an invariant pooling (HNPPool: hidden neurons averaged, input and output
neurons kept in order, as the reference's MlpHead by default) and a head of two hidden layers of
`head_hidden` units (Linear, ReLU, Dropout; then the classifier).

Representation layers: the pooled output of each equivariant layer (channels x pooled positions),
then the head's last hidden layer (the penultimate layer). Every one is invariant to permutations
of hidden neurons; none is invariant to the sign symmetry of sine layers, which NFNs do not claim.
"""

import torch
from nfn.common import ArraySpec, NetworkSpec, WeightSpaceFeatures
from nfn.layers import GaussianFourierFeatureTransform, HNPPool, IOSinusoidalEncoding, NPLinear, TupleOp
from torch import nn

from gmnrep.models.param_graph import Weights, check_layer_sizes


def network_spec(layer_sizes: tuple[int, ...]) -> NetworkSpec:
    """The nfn package's description of a SIREN with `layer_sizes`: every dimension set."""
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    return NetworkSpec([ArraySpec((n_out, n_in)) for n_in, n_out in pairs], [ArraySpec((n_out,)) for _, n_out in pairs])


def weight_space_features(weights: Weights) -> WeightSpaceFeatures:
    """Our stack of SIRENs as one-channel weight-space features: W (n, 1, out, in), b (n, 1, out)."""
    return WeightSpaceFeatures([w[:, None] for w, _ in weights], [b[:, None] for _, b in weights])


class NFN(nn.Module):
    def __init__(
        self,
        layer_sizes: tuple[int, ...],
        num_classes: int,
        hchannels: tuple[int, ...] = (512, 512, 512),
        fourier_features: int = 128,
        fourier_scale: float = 10.0,
        io_bands: int = 6,
        io_max_freq: float = 10.0,
        head_hidden: int = 1000,
        dropout: float = 0.5,
    ):
        super().__init__()
        if len(layer_sizes) < 3:
            raise ValueError(f"an NFN needs a SIREN with hidden layers, not {tuple(layer_sizes)}")
        self.layer_sizes = tuple(layer_sizes)
        spec = network_spec(self.layer_sizes)
        fourier = GaussianFourierFeatureTransform(spec, 1, fourier_features, fourier_scale)
        io_code = IOSinusoidalEncoding(spec, io_max_freq, io_bands, enc_layers=False)
        self.encode = nn.Sequential(fourier, io_code)
        channels = [io_code.num_out_chan(fourier.out_channels), *hchannels]
        self.layers = nn.ModuleList(
            nn.Sequential(NPLinear(spec, c_in, c_out), TupleOp(nn.ReLU()))
            for c_in, c_out in zip(channels, channels[1:])
        )
        self.pool = HNPPool(spec)
        self.head = nn.Sequential(
            nn.Linear(channels[-1] * HNPPool.get_num_outs(spec), head_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, head_hidden),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_hidden, num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.layers) + 1

    def forward(self, weights: Weights) -> torch.Tensor:
        return self.representations(weights)[0]

    def representations(self, weights: Weights) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers 1..len(hchannels) + 1, each (batch, features)."""
        check_layer_sizes(weights, self.layer_sizes, "an NFN")
        features, pooled = self.encode(weight_space_features(weights)), []
        for layer in self.layers:
            features = layer(features)
            pooled.append(self.pool(features).flatten(1))
        penultimate = self.head(pooled[-1])
        return self.classifier(self.dropout(penultimate)), [*pooled, penultimate]
