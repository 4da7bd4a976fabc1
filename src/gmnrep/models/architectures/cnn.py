"""A convolutional network on the images (gmnrep.models.image_models)."""

from gmnrep.models.architectures import IMAGE, IMAGES, Architecture, image_network_schema


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
    network_schema=image_network_schema("channels"),
)
