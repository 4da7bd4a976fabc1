"""A multilayer perceptron on the images (gmnrep.models.image_models)."""

from gmnrep.models.architectures import IMAGE, IMAGES, Architecture


def network():
    from gmnrep.models.image_models import MLP

    return MLP


ARCHITECTURE = Architecture(
    name="mlp",
    title="MLP",
    family=IMAGE,
    inputs=IMAGES,
    network=network,
    depth_key="hidden",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["hidden", "penultimate", "dropout"],
        "properties": {
            "hidden": {"$ref": "#/definitions/widths"},
            "penultimate": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
        },
    },
)
