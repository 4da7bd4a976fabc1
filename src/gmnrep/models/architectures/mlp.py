"""A multilayer perceptron on the images (gmnrep.models.image_models)."""

from gmnrep.models.architectures import IMAGE, IMAGES, Architecture, image_network_schema


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
    network_schema=image_network_schema("hidden"),
)
