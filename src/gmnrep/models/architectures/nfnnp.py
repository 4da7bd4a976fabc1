"""NFN (Zhou et al. 2023), its NP variant: neuron-permutation-equivariant layers over the weight space, from the
authors' `nfn` package (gmnrep.models.nfn)."""

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture


def network():
    from gmnrep.models.nfn import NFN

    return NFN


ARCHITECTURE = Architecture(
    name="nfnnp",
    title="NFN (NP)",
    family=WEIGHT_SPACE,
    inputs=WEIGHTS,
    network=network,
    depth_key="hchannels",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": [
            "hchannels",
            "fourier_features",
            "fourier_scale",
            "io_bands",
            "io_max_freq",
            "head_hidden",
            "dropout",
        ],
        "properties": {
            "hchannels": {"$ref": "#/definitions/widths"},
            "fourier_features": {"type": "integer", "minimum": 1},
            "fourier_scale": {"type": "number", "exclusiveMinimum": 0},
            "io_bands": {"type": "integer", "minimum": 1},
            "io_max_freq": {"type": "number", "exclusiveMinimum": 0},
            "head_hidden": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
        },
    },
)
