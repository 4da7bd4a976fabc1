"""What the pipeline needs to know of an architecture, declared by one module of this package each
(gmn, scalegmn, nfnnp, statnn, flatmlp, mlp, cnn); gmnrep.models.registry lists them.

A declaration names the architecture's network and says what it sees (INR weights or images), which
family it belongs to (what the claims compare: weight-space networks against image networks), its
config section's schema, how many representation layers given settings expose, and, for networks
that fit something to the training inputs before training (the GMN's input statistics), the method
that does it. The network class is imported only when a model is built, so that planning a run
(Snakemake reads the registry for every command) does not load torch.
"""

from collections.abc import Callable
from dataclasses import dataclass

WEIGHTS, IMAGES = "weights", "images"  # what a network sees: an INR's weights, or the image itself
WEIGHT_SPACE, IMAGE = "weight-space", "image"  # families: the claims test weight-space networks against image ones


def image_network_schema(blocks_key: str) -> dict:
    """The network schema of an image classifier (gmnrep.models.image_models): the widths of its
    hidden blocks under `blocks_key`, its penultimate width and its dropout."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [blocks_key, "penultimate", "dropout"],
        "properties": {
            blocks_key: {"$ref": "#/definitions/widths"},
            "penultimate": {"type": "integer", "minimum": 1},
            "dropout": {"$ref": "#/definitions/dropout"},
        },
    }


@dataclass(frozen=True)
class Architecture:
    name: str  # config key, model-id part and file-name part: lowercase letters and digits
    title: str  # as tables and figures show it
    family: str  # WEIGHT_SPACE or IMAGE
    inputs: str  # WEIGHTS or IMAGES
    network: Callable  # () -> the nn.Module class; its constructor takes the settings of `network_schema`
    depth_key: str  # the network setting whose value (a count, or a list's length) is the number of hidden blocks
    network_schema: dict  # JSON schema of models.<name>.network
    prepare: str | None = None  # method fitted to the training inputs before training, if any

    def representation_layers(self, network: dict) -> int:
        """L: the hidden blocks, then the penultimate layer."""
        depth = network[self.depth_key]
        return (depth if isinstance(depth, int) else len(depth)) + 1

    def model_kwargs(self, network: dict, num_classes: int, input_shape: tuple) -> dict:
        """Constructor arguments from the config's `network` settings and the shape of what it sees:
        a SIREN's layer sizes (WEIGHTS) or one image's shape (IMAGES)."""
        shape_key = "layer_sizes" if self.inputs == WEIGHTS else "image_shape"
        kwargs = {**network, "num_classes": num_classes, shape_key: tuple(input_shape)}
        return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
