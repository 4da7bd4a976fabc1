"""HDF5 files of the pipeline: written atomically with provenance attrs, read with checks
that name the file and the problem."""

import json
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError

SCHEMA_VERSION = 1


def _attr_value(value):
    # h5py rejects some str subclasses (e.g. torch's version string), None, and dicts/lists of mixed types.
    if isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def write_h5(path: str | Path, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, object]) -> None:
    """Write `arrays` (dataset paths may contain '/') and `attrs` to `path`, all or nothing."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["schema_version"] = SCHEMA_VERSION
            for key, value in attrs.items():
                f.attrs[key] = _attr_value(value)
            for key, array in arrays.items():
                f.create_dataset(key, data=array)


def read_h5(path: str | Path, required: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read every dataset in `required` and all attrs; DataError naming the file when it is unreadable
    or damaged, has another schema version, or lacks a dataset."""
    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("schema_version")
            if version != SCHEMA_VERSION:
                raise DataError(f"{path}: schema version {version}, expected {SCHEMA_VERSION}; rebuild it")
            missing = [key for key in required if key not in f]
            if missing:
                raise DataError(f"{path}: missing dataset(s) {', '.join(missing)}")
            arrays = {key: f[key][()] for key in required}
            attrs = dict(f.attrs)
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None
    except (KeyError, RuntimeError, ValueError) as exc:
        # what h5py raises for damaged internal structures (B-trees, heaps, object headers)
        raise DataError(f"{path}: corrupt HDF5 file ({exc}); rebuild it") from None
    return arrays, attrs
