"""Content hashes: of a file (sha256, streamed) and of the settings a job used (canonical JSON)."""

import hashlib
import json
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(values) -> str:
    """Stable hash of the configuration values a job used (canonical JSON, sha256)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
