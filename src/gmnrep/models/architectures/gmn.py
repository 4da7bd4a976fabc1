"""The graph metanetwork of Lim et al. 2024 on the INRs' parameter graphs (gmnrep.models.gmn)."""

from gmnrep.models.architectures import WEIGHT_SPACE, WEIGHTS, Architecture


def network():
    from gmnrep.models.gmn import GMN

    return GMN


ARCHITECTURE = Architecture(
    name="gmn",
    title="GMN",
    family=WEIGHT_SPACE,
    inputs=WEIGHTS,
    network=network,
    depth_key="blocks",
    prepare="set_input_statistics",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": [
            "hidden",
            "blocks",
            "encoder",
            "readout",
            "pooling",
            "head_hidden",
            "head_layers",
            "dropout",
            "block_dropout",
            "form",
        ],  # fmt: skip
        "properties": {
            "hidden": {"type": "integer", "minimum": 1},
            "blocks": {"type": "integer", "minimum": 1},
            "encoder": {"enum": ["linear", "sin", "rff"]},
            "rff_features": {"type": "integer", "minimum": 1},
            "rff_sigma": {"type": "number", "exclusiveMinimum": 0},
            "readout": {"enum": ["nodes", "output", "nodes_edges"]},
            "pooling": {"enum": ["mean", "sum", "max"]},
            "head_hidden": {"type": "integer", "minimum": 1},
            "head_layers": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
            "block_dropout": {"$ref": "#/definitions/dropout"},
            "form": {"enum": ["dense", "edge_index"]},
        },
    },
)
