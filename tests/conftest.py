import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def digits():
    from gmnrep import formats

    return formats.read_digits(formats.digits_source_file())


@pytest.fixture
def dwsnets_recipe():
    from gmnrep.siren import SirenRecipe

    return SirenRecipe(
        hidden=(32, 32), w0=30.0, init="dwsnets", output_offset=0.5, target_range=(0.0, 1.0),
        lr=5e-4, max_steps=1000, target_psnr=40.0,
    )


@pytest.fixture
def one_thread():
    """Tiny tensors: more threads only add synchronisation, and on a busy machine OpenMP's waiting
    threads made such tests up to 100x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]


def random_images(n: int, shape=(8, 8), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)
