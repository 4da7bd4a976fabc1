"""A convolutional network on the images (gmnrep.models.image_models)."""

from gmnrep.models.architectures import IMAGE, IMAGES, Architecture


def network():
    from gmnrep.models.image_models import CNN

    return CNN


ARCHITECTURE = Architecture(
    name="cnn",
    title="CNN",
    family=IMAGE,
    inputs=IMAGES,
    network=network,
    depth_key="channels",
    network_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["channels", "penultimate", "dropout"],
        "properties": {
            "channels": {"$ref": "#/definitions/widths"},
            "penultimate": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
        },
    },
)
