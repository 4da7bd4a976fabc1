"""The weight-space families beside the graph metanetworks (NFN, StatNN, the flat MLP): each is
invariant to the SIREN symmetries it claims, on real SIREN symmetries, and the flat MLP, which
claims none, is shown not to be; the check itself fails on a model that is broken on purpose."""

from unittest import mock

import pytest
import torch
from torch import nn

from gmnrep.models.flat_mlp import FlatMLP
from gmnrep.models.nfn import NFN
from gmnrep.models.weight_statistics import STATISTICS, StatNN, weight_statistics
from siren_symmetries import flip_hidden_signs, permute_hidden_neurons, random_signs, siren_weights

pytestmark = pytest.mark.usefixtures("one_thread")
SIZES = (2, 8, 8, 3)  # two hidden layers, several outputs
CHANNELS = 6  # of the NFN's equivariant layers


def make(family: str, seed=0) -> nn.Module:
    torch.manual_seed(seed)
    model = {
        "nfn": lambda: NFN(SIZES, 5, hchannels=(CHANNELS, CHANNELS), fourier_features=4, head_hidden=8),
        "statnn": lambda: StatNN(SIZES, 5, hidden=(8, 8)),
        "flatmlp": lambda: FlatMLP(SIZES, 5, hidden=8, blocks=2),
    }[family]()
    if family == "flatmlp":
        model.set_input_statistics(siren_weights(SIZES, 16, seed=1))
    return model.double().eval()


def largest_change(model: nn.Module, weights, transformed) -> float:
    """The largest change of the logits or of any representation layer, relative to its scale."""
    with torch.no_grad():
        before, after = model.representations(weights), model.representations(transformed)
    pairs = zip([before[0], *before[1]], [after[0], *after[1]])
    return max(float((b - a).abs().max() / a.abs().max().clamp(min=1e-30)) for a, b in pairs)


@pytest.mark.parametrize("family", ["nfn", "statnn"])
def test_permuting_hidden_neurons_changes_no_output_or_representation(family):
    model, weights = make(family), siren_weights(SIZES, 6)
    assert largest_change(model, weights, permute_hidden_neurons(weights)) < 1e-10


def test_the_flat_mlp_is_not_invariant_to_permuting_hidden_neurons():
    weights = siren_weights(SIZES, 6)
    assert largest_change(make("flatmlp"), weights, permute_hidden_neurons(weights)) > 1e-2


@pytest.mark.parametrize("family", ["nfn", "statnn", "flatmlp"])
def test_no_family_here_is_invariant_to_the_sign_symmetry_and_none_claims_it(family):
    model, weights = make(family), siren_weights(SIZES, 6)
    assert largest_change(model, weights, flip_hidden_signs(weights, random_signs(weights))) > 1e-3


class FirstHiddenNeuron(nn.Module):
    """A 'pooling' that reads hidden neuron 0 of the middle layer pair instead of averaging over them."""

    def forward(self, features):
        weight, bias = features[1]
        return torch.cat([weight[:, :, 0, 0], bias[:, :, 0]], dim=1)[:, :, None]


def first_entries(weights):
    """'Statistics' that are the first entries of each layer (as many as the statistics): positions,
    not a distribution."""
    return torch.cat(
        [torch.cat([w.flatten(1)[:, :STATISTICS], b[:, :1].expand(-1, STATISTICS)], 1) for w, b in weights], 1
    )


def test_the_permutation_check_fails_on_broken_models():
    weights = siren_weights(SIZES, 6)
    nfn = make("nfn")
    nfn.pool = FirstHiddenNeuron()  # the head reads 2 features per channel from now on
    nfn.head[0] = nn.Linear(CHANNELS * 2, nfn.head[0].out_features).double()
    assert largest_change(nfn, weights, permute_hidden_neurons(weights)) > 1e-3
    statnn = make("statnn")
    with mock.patch("gmnrep.models.weight_statistics.weight_statistics", first_entries):
        assert largest_change(statnn, weights, permute_hidden_neurons(weights)) > 1e-3


@pytest.mark.parametrize("family", ["nfn", "statnn", "flatmlp"])
def test_weights_of_another_siren_are_refused(family):
    with pytest.raises(ValueError, match=r"weights of a \(2, 8, 1\) SIREN"):
        make(family)(siren_weights((2, 8, 1), 2))


def test_the_flat_mlp_standardises_each_entry_with_the_training_statistics():
    weights = siren_weights(SIZES, 16, seed=1)
    model = make("flatmlp")
    flat = torch.cat([w.flatten(1) for w, _ in weights] + [b for _, b in weights], dim=1)
    standardised = (flat - model.input_mean) / model.input_std
    torch.testing.assert_close(
        standardised.mean(0), torch.zeros_like(standardised[0]), atol=1e-6, rtol=0
    )  # statistics held in float32
    torch.testing.assert_close(
        standardised.std(0), torch.ones_like(standardised[0]), atol=1e-6, rtol=0
    )  # statistics held in float32


def test_the_statistics_are_each_layers_moments_and_quantiles_and_defined_for_one_output():
    weights = siren_weights((2, 8, 1), 3)
    statistics = weight_statistics(weights)
    last_bias = weights[-1][1]  # one number per SIREN: variance 0, every quantile the number itself
    torch.testing.assert_close(
        statistics[:, -STATISTICS:], torch.cat([last_bias, torch.zeros_like(last_bias), last_bias.expand(-1, 5)], 1)
    )
    first = weights[0][0].flatten(1)
    torch.testing.assert_close(statistics[:, 1], first.var(1, correction=0))
    middle = first.sort(1).values[:, 7:9]  # 16 entries: the median is the mean of the middle two
    torch.testing.assert_close(statistics[:, 4], middle.mean(1))
