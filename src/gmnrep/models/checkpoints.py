"""Trained models on disk: which architecture, its constructor arguments, and its weights.

A checkpoint is enough to rebuild the model without the configuration that made it. It is
serialised in memory and written atomically, so identical weights give identical bytes and an
interrupted write never leaves a file under the final name. Its settings are stored with their keys
sorted: the order of a mapping's keys depends on how the configuration's files were layered (a
preset's keys come first), and the pickle would keep it.
"""

import io
from pathlib import Path

import torch
from torch import nn

from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError
from gmnrep.models import registry

FORMAT_VERSION = 1


def _sorted_keys(value):
    """`value` with every mapping in it ordered by key."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return type(value)(_sorted_keys(item) for item in value)
    return value


def save(path: Path, arch: str, model_kwargs: dict, state_dict: dict, info: dict) -> None:
    payload = {
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "model_kwargs": _sorted_keys(model_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "info": _sorted_keys(info),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """The model in eval mode on `device`, and the checkpoint's payload."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for unreadable files
        raise DataError(f"{path}: not a readable checkpoint ({exc})") from exc
    if payload.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: checkpoint format {payload.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        model = registry.build(payload["arch"], payload["model_kwargs"])
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload
