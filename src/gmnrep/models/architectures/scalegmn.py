"""ScaleGMN (Kalogeropoulos et al. 2024): a graph metanetwork that also respects the sign symmetry of
sine layers (gmnrep.models.scalegmn)."""

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture


def network():
    from gmnrep.models.scalegmn import ScaleGMN

    return ScaleGMN


ARCHITECTURE = Architecture(
    name="scalegmn",
    title="ScaleGMN",
    family=WEIGHT_SPACE,
    inputs=WEIGHTS,
    network=network,
    depth_key="layers",
    prepare="set_input_scale",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": [
            "hidden",
            "layers",
            "direction",
            "head_hidden",
            "head_layers",
            "dropout",
            "block_dropout",
            "mlp_dropout",
        ],  # fmt: skip
        "properties": {
            "hidden": {"type": "integer", "minimum": 1},
            "layers": {"type": "integer", "minimum": 1},
            "direction": {"enum": ["forward", "bidirectional"]},
            "head_hidden": {"type": "integer", "minimum": 1},
            "head_layers": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
            "block_dropout": {"$ref": "#/definitions/dropout"},
            "mlp_dropout": {"$ref": "#/definitions/dropout"},
            "mlp_hidden": {"type": "integer", "minimum": 1},
        },
    },
)
