"""Import-only stand-in for torchvision, on the path of the reference implementations' runs only.

The torchvision wheel that matches torch 2.13 is a CUDA build, which fails to import beside a CPU
torch. The references import torchvision at module level in code their INR classification never
runs (ScaleGMN's MNIST-INR dataset and inr.py's save_image, rff's data loader); anything used raises.
"""

import sys
import types


def _unavailable(*args, **kwargs):
    raise RuntimeError("torchvision is not available in this run (an import-only stand-in)")


class _Unavailable(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _unavailable


for _name in ("transforms", "utils", "datasets", "io"):
    sys.modules[f"torchvision.{_name}"] = globals()[_name] = _Unavailable(f"torchvision.{_name}")
