"""Which INR fitting settings reproduce the standard DWSNets Fashion-MNIST INR set?

Fits the same real Fashion-MNIST images once per setting with the project's fitter
(gmnrep.inr.fitting.fit_inrs, the `dwsnets` recipe of config.yaml with the named fields changed)
and prints, per setting, each layer's weight and bias std divided by the published std of the
standard set (gmnrep.inr.statistics.PUBLISHED; mkofinas/neural-graphs' data config), and the PSNR
distribution. The target is every ratio within a factor 1.25 (0.8 .. 1.25).

Run (from the repository root)::

    .venv/bin/python bench/inr_recipe_sweep.py --images 256 \
        --setting lr=5e-4,max_steps=1000 --setting lr=1e-3,max_steps=1000
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from config_recipes import config_recipe
from gmnrep.data.formats import read_idx
from gmnrep.inr.fitting import fit_inrs
from gmnrep.inr.statistics import layer_statistics

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
WITHIN = (0.8, 1.25)


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def parse_setting(text: str) -> dict:
    """'lr=1e-3,max_steps=2000,target_range=-1:1' -> recipe fields."""
    fields = {}
    for item in text.split(","):
        key, value = item.split("=")
        fields[key] = tuple(float(v) for v in value.split(":")) if ":" in value else _number(value)
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256, help="first N training images of Fashion-MNIST")
    parser.add_argument("--setting", action="append", default=[], help="recipe fields to change, k=v,k=v")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = config_recipe("dwsnets")
    images = read_idx(FASHION_MNIST)[: args.images]
    indices = np.arange(len(images))
    header = (
        f"{'setting':<44}"
        + "".join(f"{p + str(l):>8}" for l in range(3) for p in "Wb")
        + "  within  PSNR mean/p10/p90   s"
    )
    print(f"{len(images)} Fashion-MNIST training images; std / published std per layer\n{header}")
    for text in args.setting or [""]:
        recipe = replace(base, **parse_setting(text)) if text else base
        start = time.perf_counter()
        result = fit_inrs(images, indices, recipe, seed=0, batch_size=args.batch_size)
        seconds = time.perf_counter() - start
        ratios = [row["std_ratio"] for row in layer_statistics(result.weights, "ng_fashion_mnist")]
        within = sum(WITHIN[0] <= r <= WITHIN[1] for r in ratios)
        psnr = result.psnr
        print(
            f"{text or 'config.yaml':<44}"
            + "".join(f"{r:8.2f}" for r in ratios)
            + f"  {within}/{len(ratios)}     {psnr.mean():5.1f}/"
            + f"{np.percentile(psnr, 10):4.1f}/{np.percentile(psnr, 90):4.1f}"
            + f"  {seconds:5.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
