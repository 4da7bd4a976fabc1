"""An MLP on the INR's flattened weights: the weight-space baseline that respects no symmetry
(gmnrep.models.flat_mlp)."""

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture


def network():
    from gmnrep.models.flat_mlp import FlatMLP

    return FlatMLP


ARCHITECTURE = Architecture(
    name="flatmlp",
    title="Flat MLP",
    family=WEIGHT_SPACE,
    inputs=WEIGHTS,
    network=network,
    depth_key="blocks",
    prepare="set_input_statistics",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["hidden", "blocks", "batch_norm"],
        "properties": {
            "hidden": {"type": "integer", "minimum": 1},
            "blocks": {"type": "integer", "minimum": 1},
            "batch_norm": {"type": "boolean"},
        },
    },
)
