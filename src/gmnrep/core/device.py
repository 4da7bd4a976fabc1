"""Where a job computes: `auto` picks a GPU when one is visible, else the CPU.

On CUDA a job takes a GPU that no other job of this machine holds (`gpu_slots.claim`; `cuda:N`
names one explicitly and takes it as given), and runs deterministic kernels only: an operation
without one raises instead of varying silently (docs/guarantees.md says what that buys per device).
"""

import os

import torch

from gmnrep.core import gpu_slots

# cuBLAS's deterministic mode needs a fixed workspace; it is read when its first handle is made.
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(device: str) -> torch.device:
    if device == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        identities = [str(torch.cuda.get_device_properties(i).uuid) for i in range(torch.cuda.device_count())]
        on = torch.device("cuda", gpu_slots.claim(identities))
    else:
        on = torch.device(device)
    if on.type == "cuda":
        deterministic_cuda()
    return on


def deterministic_cuda() -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
