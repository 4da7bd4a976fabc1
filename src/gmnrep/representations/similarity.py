"""CKA between two trained models, layer by layer, from their activation dumps.

Each model's per-layer work (centring, and the Gram factor or per-minibatch Grams of
`gmnrep.representations.cka.prepare`) is done once and stored as an operand file, so the pair jobs, one per
model pair, only combine two prepared models. Both models must have been probed on the same
samples in the same order; their image indices are stored with the operands and compared.

A pair table is a long-form CSV: one row per layer pair (layer_a = 1..L_a, layer_b = 1..L_b), with
the dataset, both model ids (`{arch}-{seed}`), the CKA value, the estimator and the probe size.
Beside it, the pair's block table holds CKA(l, l) of the claims' layers l (cka.figure_layers; each
model's own layer of them: gmnrep.representations.compared_layers) recomputed with each block of
probe samples left out (`cka.probe_blocks`, `cka.cka_without_blocks`): one row per layer and
block, what the claims' intervals measure the probe samples' part of the uncertainty with.

The chance floor of a model's layer is the mean CKA, with the same estimator, between the layer
and the same layer with its probe samples permuted: what two representations of this width and
sample count give when they are unrelated sample by sample. For linear CKA it is the exact mean over
all permutations, in closed form (`cka.permutation_mean`); for the minibatch estimator, whose mean
has no such form, the mean over CHANCE_SHUFFLES permutations seeded by cka.seed and the model id.
It is written beside the operands (one row per layer: dataset, model, layer, chance_cka, estimator,
probe_size), so "low CKA" in Table 2 and the claims can be read against it.
"""

import zlib
from pathlib import Path

import h5py
import numpy as np

from gmnrep.core.csv_files import to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.core.h5io import read_h5, write_h5
from gmnrep.representations import cka, dump_file
from gmnrep.representations.compared_layers import own_layer
from gmnrep.representations.pairs import model_id

CHANCE_SHUFFLES = 16
COLUMNS = ("dataset", "model_a", "model_b", "layer_a", "layer_b", "cka", "estimator", "probe_size")
BLOCK_COLUMNS = ("dataset", "model_a", "model_b", "layer", "block", "cka_without_block")
CHANCE_COLUMNS = ("dataset", "model", "layer", "chance_cka", "estimator", "probe_size")


def shuffle_seed(cka_seed: int, model: str) -> list[int]:
    """The seed of a model's chance shuffles: cka.seed with the model id (a stable hash, not hash())."""
    return [cka_seed, zlib.crc32(model.encode())]


def write_operands(
    dump_path: Path, output: Path, chance_output: Path, *, estimator: str, minibatch_size: int, seed: int
) -> None:
    """A model's CKA operands (output) and the chance floor of each of its layers (chance_output)."""
    dump = dump_file.read(dump_path)
    batch_size = minibatch_size if estimator == "minibatch" else None
    n = len(dump.image_index)
    if batch_size is not None and batch_size > n:
        raise DataError(f"{dump_path}: {n} probe samples, fewer than cka.minibatch_size {batch_size}")
    model = model_id((dump.attrs["arch"], dump.attrs["seed"]))
    rng = np.random.default_rng(shuffle_seed(seed, model))
    shuffles = [rng.permutation(n) for _ in range(CHANCE_SHUFFLES)] if estimator == "minibatch" else []
    arrays, chance = {"image_index": dump.image_index}, []
    for number, layer in enumerate(dump.layers, start=1):
        try:
            operand = cka.prepare(layer, estimator, batch_size, seed)
            if estimator == "linear":
                floor = cka.permutation_mean(operand)
            else:
                permuted = [cka.prepare(np.asarray(layer)[order], estimator, batch_size, seed) for order in shuffles]
                floor = float(np.mean(cka.cka_matrix([operand], permuted)))
        except ValueError as exc:
            raise DataError(f"{dump_path}: layers/{number}: {exc}") from exc
        arrays.update({f"layers/{number}/{key}": value for key, value in operand.to_arrays().items()})
        chance.append(
            {
                "dataset": dump.attrs["dataset"],
                "model": model,
                "layer": number,
                "chance_cka": floor,
                "estimator": estimator,
                "probe_size": n,
            }
        )
    attrs = {key: dump.attrs[key] for key in ("dataset", "arch", "seed", "num_layers")}
    attrs.update(estimator=estimator, minibatch_size=batch_size, cka_seed=seed, source=str(dump_path))
    write_h5(output, arrays, attrs)
    write_texts({chance_output: to_csv(chance, CHANCE_COLUMNS)})


def read_operands(path: Path) -> tuple[list[cka.Operand], np.ndarray, dict]:
    arrays, attrs = read_h5(path, ("image_index",))
    num_layers = int(attrs["num_layers"])
    operands = []
    for number in range(1, num_layers + 1):
        prefix = f"layers/{number}/"
        with_prefix = _group(path, prefix)
        try:
            operands.append(cka.Operand.from_arrays(with_prefix))
        except (KeyError, ValueError) as exc:
            raise DataError(f"{path}: {prefix} is not a CKA operand ({exc})") from exc
    return operands, arrays["image_index"], attrs


def _group(path: Path, prefix: str) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        if prefix.rstrip("/") not in f:
            raise DataError(f"{path}: missing {prefix.rstrip('/')}")
        group = f[prefix.rstrip("/")]
        return {key: group[key][()] for key in group}


def pair_rows(
    path_a: Path, path_b: Path, layers: list[int], probe_blocks: int, seed: int, deepest: int | None = None
) -> tuple[list[dict], list[dict]]:
    """The pair table's rows (every layer pair) and its block table's (CKA(l, l) of each of `layers`,
    numbered as in networks of `deepest` layers, without each of `probe_blocks` seeded blocks of
    probe samples)."""
    operands_a, index_a, attrs_a = read_operands(path_a)
    operands_b, index_b, attrs_b = read_operands(path_b)
    if not np.array_equal(index_a, index_b):
        raise DataError(f"{path_a} and {path_b} were probed on different samples; rebuild their activation dumps")
    if attrs_a["dataset"] != attrs_b["dataset"] or attrs_a["estimator"] != attrs_b["estimator"]:
        raise DataError(f"{path_a} and {path_b} differ in dataset or estimator")
    matrix = cka.cka_matrix(operands_a, operands_b)
    model_a, model_b = (model_id((attrs["arch"], attrs["seed"])) for attrs in (attrs_a, attrs_b))
    names = {"dataset": attrs_a["dataset"], "model_a": model_a, "model_b": model_b}
    rows = [
        names
        | {
            "layer_a": i + 1,
            "layer_b": j + 1,
            "cka": float(matrix[i, j]),
            "estimator": attrs_a["estimator"],
            "probe_size": len(index_a),
        }
        for i in range(matrix.shape[0])
        for j in range(matrix.shape[1])
    ]
    try:
        own = {l: (own_layer(l, len(operands_a), deepest), own_layer(l, len(operands_b), deepest)) for l in layers}
    except ValueError as exc:
        raise DataError(f"{path_a}, {path_b}: {exc}") from exc
    try:
        blocks = cka.probe_blocks(len(index_a), probe_blocks, seed)
    except ValueError as exc:
        raise DataError(f"{path_a}: {exc}") from exc
    block_rows = [
        names | {"layer": layer, "block": block, "cka_without_block": float(value)}
        for layer in layers
        for block, value in enumerate(
            cka.cka_without_blocks(operands_a[own[layer][0] - 1], operands_b[own[layer][1] - 1], blocks)
        )
    ]
    return rows, block_rows


def write_pair_table(
    path_a: Path,
    path_b: Path,
    output: Path,
    blocks_output: Path,
    *,
    layers: list[int],
    probe_blocks: int,
    seed: int,
    deepest: int | None = None,
) -> None:
    rows, block_rows = pair_rows(path_a, path_b, layers, probe_blocks, seed, deepest)
    write_texts({output: to_csv(rows, COLUMNS), blocks_output: to_csv(block_rows, BLOCK_COLUMNS)})
