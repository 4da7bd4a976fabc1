"""One INR shard job: the images of shard `shard` of a dataset (gmnrep.inr.planning) fitted by the
batched fitter (gmnrep.inr.fitting) and written as a shard file (gmnrep.inr.shards), with a
progress bar. Shards are independent jobs.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gmnrep.core.device import resolve_device
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import config_hash
from gmnrep.data import dataset_file, splits
from gmnrep.inr.fitting import fit_inrs
from gmnrep.inr.planning import shard_members, shards_needed
from gmnrep.inr.shards import Shard, write
from gmnrep.inr.siren import SirenRecipe


class ShardProgress:
    """A shard's progress bar: optimizer steps of all its stacks (a stack of INRs fits for up to
    the recipe's max_steps), so that it moves from the first step, with the INRs stopped so far."""

    def __init__(self, name: str, steps: int, inrs: int):
        self.bar = tqdm(total=steps, desc=name, unit="step")
        self.inrs, self.done = inrs, 0
        self.bar.set_postfix_str(f"0/{inrs} INRs stopped", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()

    def advance(self, steps: int) -> None:
        self.bar.update(steps)

    def stopped(self, inrs: int) -> None:
        self.done += inrs
        self.bar.set_postfix_str(f"{self.done}/{self.inrs} INRs stopped", refresh=False)


def fit_shard(
    data_path: Path,
    shard_path: Path,
    shard: int,
    *,
    recipe: dict,
    seed: int,
    shard_size: int,
    num_shards: int,
    subset: dict | None,
    subset_seed: int,
    fit_batch_size: dict[str, int],
    device: str = "auto",
) -> Shard:
    """Fit the INRs of shard `shard` of the dataset in `data_path` and write them to `shard_path`.

    The keyword arguments are the `inr` settings of config.yaml, with `recipe` the dataset's recipe.
    """
    settings = {"recipe": recipe, "seed": seed, "shard_size": shard_size, "num_shards": num_shards}
    settings.update(subset=subset, subset_seed=subset_seed)
    siren_recipe = SirenRecipe.from_config(recipe)
    data, _ = dataset_file.read(data_path)
    selected = splits.select_subset(data.split, subset, subset_seed)
    expected = shards_needed(len(selected), shard_size)
    if expected != num_shards:
        raise DataError(
            f"{data_path}: its selected images make {expected} shards of {shard_size}, but the workflow "
            f"planned {num_shards}; the data file does not match the configuration, rebuild it"
        )
    members = shard_members(selected, shard, shard_size)
    if len(members) == 0:
        raise DataError(f"{data_path}: shard {shard} of {num_shards} would be empty")
    target = resolve_device(device)
    stacks = -(-len(members) // fit_batch_size[target.type])
    with ShardProgress(shard_path.name, stacks * siren_recipe.max_steps, len(members)) as bar:
        try:
            result = fit_inrs(
                data.images[members],
                members,
                siren_recipe,
                seed,
                fit_batch_size[target.type],
                target,
                progress=bar,
            )
        except FloatingPointError as exc:
            # Say which job diverged and that it left nothing: nothing has been written yet.
            raise FloatingPointError(
                f"{shard_path}: {exc}; the fit diverged (recipe lr {siren_recipe.lr}), no shard written"
            ) from exc
    out_features = data.channels
    shard_data = Shard(
        weights=result.weights,
        image_index=members.astype(np.int64),
        label=data.labels[members],
        split=data.split[members],
        psnr=result.psnr,
        steps=result.steps,
        attrs={
            **siren_recipe.as_attrs(),
            "layer_sizes": siren_recipe.layer_sizes(out_features),
            "seed": seed,
            "shard": shard,
            "num_shards": num_shards,
            "device": torch.cuda.get_device_name(target) if target.type == "cuda" else "cpu",
            "source": str(data_path),
            "config_hash": config_hash(settings),
        },
    )
    write(shard_path, shard_data)
    return shard_data
