"""Where a job computes: `auto` picks the GPU when one is visible, else the CPU."""

import torch


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
