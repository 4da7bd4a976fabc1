"""Networks on the images themselves, to compare with GMNs on the INRs of the same images.

Both take uint8 images (batch, H, W) or (batch, H, W, C), scaled to [-1, 1] inside, and expose
len(hidden or channels) + 1 representation layers: the hidden blocks, then the penultimate layer,
the same count as a GMN with as many message-passing blocks. Convolutional representations are
the block outputs flattened (channels x height x width), as in Kornblith et al. 2019.
"""

import torch
from torch import nn


def _as_float_nchw(images: torch.Tensor) -> torch.Tensor:
    x = images.float() / 127.5 - 1.0
    return x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)


class _ImageClassifier(nn.Module):
    """Hidden blocks, a penultimate layer, dropout and a linear classifier; subclasses build the
    blocks and say how images enter the first one."""

    def __init__(self, blocks: nn.ModuleList, block_features: int, num_classes: int, penultimate: int, dropout: float):
        super().__init__()
        self.blocks = blocks
        self.penultimate = nn.Sequential(nn.Linear(block_features, penultimate), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(penultimate, num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.blocks) + 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.representations(images)[0]

    def representations(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers 1..num_layers, each (batch, features)."""
        x = self.first_input(images)
        layers = []
        for block in self.blocks:
            x = block(x)
            layers.append(x.flatten(1))
        layers.append(self.penultimate(layers[-1]))
        return self.classifier(self.dropout(layers[-1])), layers

    def first_input(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MLP(_ImageClassifier):
    def __init__(self, image_shape, num_classes: int, hidden=(256, 256, 256, 256), penultimate: int = 128, dropout=0.0):
        sizes = [int(torch.tensor(image_shape).prod()), *hidden]
        blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)) for a, b in zip(sizes[:-1], sizes[1:])
        )
        super().__init__(blocks, sizes[-1], num_classes, penultimate, dropout)

    def first_input(self, images: torch.Tensor) -> torch.Tensor:
        return _as_float_nchw(images).flatten(1)


class CNN(_ImageClassifier):
    """3x3 convolutions with ReLU, each block followed by 2x2 max pooling (ceil mode, so that small
    images such as 8x8 digits keep at least one pixel), then a fully connected penultimate layer."""

    def __init__(self, image_shape, num_classes: int, channels=(32, 64, 64, 128), penultimate: int = 128, dropout=0.0):
        height, width = image_shape[:2]
        in_channels = image_shape[2] if len(image_shape) == 3 else 1
        blocks = nn.ModuleList()
        for out_channels in channels:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 3, padding=1),
                    nn.ReLU(),
                    nn.MaxPool2d(2, ceil_mode=True),
                    nn.Dropout(dropout),
                )
            )
            in_channels, height, width = out_channels, -(-height // 2), -(-width // 2)
        super().__init__(blocks, in_channels * height * width, num_classes, penultimate, dropout)

    def first_input(self, images: torch.Tensor) -> torch.Tensor:
        return _as_float_nchw(images)
