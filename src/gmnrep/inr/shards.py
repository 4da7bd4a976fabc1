"""INR weight shards: the shard file and the INR summary of a dataset's shards (fitting a shard:
gmnrep.inr.shard_fitting). Numpy and h5py only, so that what reads shards or summaries does not
load torch.

File contract (docs/design.md, Data contracts): `weights/{i}/W` (n,out,in) and `weights/{i}/b` (n,out) float32 for
layers i = 0..L-1 (input side first), `image_index`, `label`, `split`, `psnr` (dB), `steps`;
attrs: the recipe, layer sizes, seed, device, and whatever provenance the caller adds.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.atomic import atomic_path
from gmnrep.core.csv_files import read_csv
from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5, write_h5
from gmnrep.data import splits
from gmnrep.inr.statistics import layer_statistics

SUMMARY_COLUMNS = ("split", "inrs", "psnr_median")  # what read_summary reads of a summary


@dataclass
class Shard:
    weights: list[tuple[np.ndarray, np.ndarray]]
    image_index: np.ndarray
    label: np.ndarray
    split: np.ndarray
    psnr: np.ndarray
    steps: np.ndarray
    attrs: dict


def write(path: Path, shard: Shard) -> None:
    arrays = {"image_index": shard.image_index, "label": shard.label, "split": shard.split}
    arrays.update(psnr=shard.psnr, steps=shard.steps)
    for i, (w, b) in enumerate(shard.weights):
        arrays[f"weights/{i}/W"] = w
        arrays[f"weights/{i}/b"] = b
    write_h5(path, arrays, shard.attrs)


def read(path: Path) -> Shard:
    """Read a shard, refusing one that is damaged or whose weights are missing, misshapen or not finite."""
    arrays, attrs = read_h5(path, ("image_index", "label", "split", "psnr", "steps"))
    sizes = layer_sizes(path, attrs)
    weight_keys = tuple(f"weights/{i}/{p}" for i in range(len(sizes) - 1) for p in "Wb")
    weights_flat, _ = read_h5(path, weight_keys)
    n = len(arrays["image_index"])
    weights = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w, b = weights_flat[f"weights/{i}/W"], weights_flat[f"weights/{i}/b"]
        if w.shape != (n, fan_out, fan_in) or b.shape != (n, fan_out):
            raise DataError(
                f"{path}: weights/{i} have shapes {w.shape}, {b.shape}; expected {(n, fan_out, fan_in)}, {(n, fan_out)}"
            )
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise DataError(f"{path}: weights/{i} contain NaN or infinite values")
        weights.append((w, b))
    return Shard(
        weights, arrays["image_index"], arrays["label"], arrays["split"], arrays["psnr"], arrays["steps"], attrs
    )


def layer_sizes(path: Path, attrs: dict) -> list[int]:
    try:
        return list(json.loads(attrs["layer_sizes"]))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: attribute layer_sizes is missing or unreadable") from None


def summarize(shards: list[Shard], target_psnr: float) -> list[dict]:
    """Per split and overall: count, PSNR mean / median / min, mean steps, share reaching the target,
    and PSNR percentiles 10 / 90 and maximum."""
    psnr = np.concatenate([s.psnr for s in shards])
    steps = np.concatenate([s.steps for s in shards])
    split = np.concatenate([s.split for s in shards])
    rows = []
    for name, mask in [*((n, split == c) for n, c in splits.SPLIT_NAMES.items()), ("all", np.ones_like(split, bool))]:
        if mask.any():
            rows.append(
                {
                    "split": name,
                    "inrs": int(mask.sum()),
                    "psnr_mean": round(float(psnr[mask].mean()), 3),
                    "psnr_median": round(float(np.median(psnr[mask])), 3),
                    "psnr_min": round(float(psnr[mask].min()), 3),
                    # imported INRs do not know their steps (gmnrep.inr.standard_sets.UNKNOWN_STEPS)
                    "steps_mean": round(float(steps[mask].mean()), 1) if (steps[mask] >= 0).all() else "",
                    "reached_target": round(float((psnr[mask] >= target_psnr).mean()), 4),
                    "psnr_p10": round(float(np.percentile(psnr[mask], 10)), 3),
                    "psnr_p90": round(float(np.percentile(psnr[mask], 90)), 3),
                    "psnr_max": round(float(psnr[mask].max()), 3),
                }
            )
    return rows


def write_summary(
    shard_paths: list[Path],
    output: Path,
    target_psnr: float,
    statistics_output: Path | None = None,
    reference_set: str | None = None,
) -> list[dict]:
    """The PSNR summary of the shards, and with `statistics_output` their per-layer weight
    statistics beside the published ones of the standard INR set `reference_set` (inr.statistics)."""
    parts = [read(p) for p in shard_paths]
    rows = summarize(parts, target_psnr)
    if statistics_output is not None:
        weights = [
            tuple(np.concatenate([s.weights[l][k] for s in parts]) for k in (0, 1))
            for l in range(len(parts[0].weights))
        ]
        _write_csv(layer_statistics(weights, reference_set), statistics_output)
    _write_csv(rows, output)
    return rows


def read_summary(path: Path) -> dict[str, dict]:
    """An INR summary as write_summary writes it, by split name: INR count and median PSNR."""
    rows = read_csv(Path(path), SUMMARY_COLUMNS, "INR summary")
    try:
        return {r["split"]: {"inrs": int(r["inrs"]), "psnr_median": float(r["psnr_median"])} for r in rows}
    except ValueError as exc:
        raise DataError(f"{path}: an INR count or PSNR is not a number ({exc})") from None


def _write_csv(rows: list[dict], output: Path) -> None:
    with atomic_path(output) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                {k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in r.items()} for r in rows
            )
