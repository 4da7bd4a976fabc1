"""StatNN (Unterthiner et al. 2020): an MLP on per-layer statistics of the weights
(gmnrep.models.weight_statistics)."""

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture


def network():
    from gmnrep.models.weight_statistics import StatNN

    return StatNN


ARCHITECTURE = Architecture(
    name="statnn",
    title="StatNN",
    family=WEIGHT_SPACE,
    inputs=WEIGHTS,
    network=network,
    depth_key="hidden",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["hidden", "dropout"],
        "properties": {"hidden": {"$ref": "#/definitions/widths"}, "dropout": {"$ref": "#/definitions/dropout"}},
    },
)
