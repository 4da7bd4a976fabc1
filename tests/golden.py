"""The golden-hash computations: a fixed set of the pipeline's computations at test sizes, each
reduced to the sha256 of its output bytes, with CPU numerics pinned (gmnrep.core.numerics, set
here before torch loads). tests/test_golden.py runs this file in a fresh process and compares with
tests/golden/cpu.json, which `.venv/bin/python tests/golden.py --write` makes. One manifest for
every x86-64 CPU with AVX2: the pins hold each library to its AVX2 code path.

Computations, in order (a difference upstream shows in everything after it, so the first one that
differs is the one to look at):
- inr_digits: 48 of scikit-learn's digits fitted with the DWSNets recipe, 150 steps (weights, PSNR);
- inr_fashion_mnist: 8 Fashion-MNIST training images, the same recipe, 100 steps (needs Debian's
  dataset-fashion-mnist: left out, and said so, where it is absent);
- train_gmn, train_mlp, train_cnn: the smoke preset's networks and training settings on the 48
  digits INRs (GMN) or their images (MLP, CNN), split 32 / 8 / 8: the kept model's weights and the
  history;
- cka: linear CKA between every GMN and CNN representation layer on the 16 validation and test
  samples (float64 values);
- claims: the C1/C2 interval (statistics.mean_difference: delete-one jackknifes over models and over
  probe blocks, numpy and OpenBLAS, with scipy's Student t quantile) of GMN-CNN against GMN-MLP
  CKA, each pairing's values and leave-one-block-out values (4 blocks) computed from the trained
  models' first three representation layers, which stand in for three seeds.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
from gmnrep.core import numerics  # noqa: E402

numerics.pin()  # the manifest is of the pinned mode: before torch loads

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

from config_recipes import config_recipe  # noqa: E402
from gmnrep import config as gmn_config  # noqa: E402
from gmnrep.data.formats import digits_source_file, read_digits, read_idx  # noqa: E402
from gmnrep.inr.fitting import fit_inrs  # noqa: E402
from gmnrep.models import registry, training  # noqa: E402
from gmnrep.models.samples import Samples  # noqa: E402
from gmnrep.paper import statistics  # noqa: E402
from gmnrep.provenance.records import cpu_model  # noqa: E402
from gmnrep.representations import cka, extract  # noqa: E402

MANIFEST = Path(__file__).resolve().parent / "golden/cpu.json"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for array in arrays:
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def fitted(images, steps):
    result = fit_inrs(images, np.arange(len(images)), config_recipe("dwsnets", max_steps=steps), 0, len(images), "cpu")
    return result, digest(*(a for pair in result.weights for a in pair), result.psnr)


def computations() -> dict[str, str]:
    """Each computation's sha256, in the order of the module's docstring."""
    torch.set_num_threads(1)
    hashes = {}
    images, labels = read_digits(digits_source_file())
    images, labels = images[:48], labels[:48].astype(np.int64)
    inrs, hashes["inr_digits"] = fitted(images, 150)
    if FASHION_MNIST.is_file():
        _, hashes["inr_fashion_mnist"] = fitted(read_idx(FASHION_MNIST)[:8].copy(), 100)
    smoke = gmn_config.layered([REPO / "config.yaml", REPO / "presets/smoke.yaml"])["models"]
    split = np.repeat(np.array([0, 1, 2], np.uint8), [32, 8, 8])
    weights = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in inrs.weights]
    inputs = {"gmn": weights, "mlp": torch.from_numpy(images), "cnn": torch.from_numpy(images)}
    models = {}
    for arch, arch_inputs in inputs.items():
        samples = Samples(arch_inputs, torch.from_numpy(labels), split, np.arange(48))
        kwargs = training.model_kwargs(arch, smoke[arch]["network"], "digits", samples)
        settings = training.TrainingSettings(**smoke[arch]["training"])
        result = training.train(arch, kwargs, samples, settings, 0, torch.device("cpu"), f"golden {arch}")
        history = np.frombuffer(json.dumps(result.history, sort_keys=True).encode(), np.uint8)
        hashes[f"train_{arch}"] = digest(*(v.numpy() for v in result.state_dict.values()), history)
        model = registry.build(arch, kwargs)
        model.load_state_dict(result.state_dict)
        models[arch] = (model, samples)
    probe = np.flatnonzero(split > 0)
    layers = {arch: extract.compute(*models[arch], probe, 8, f"{arch} dump")[0] for arch in inputs}
    values = [cka.linear_cka(a, b) for a in layers["gmn"] for b in layers["cnn"]]
    hashes["cka"] = digest(np.array(values, np.float64))
    hashes["claims"] = digest(np.array(claims_interval(layers, len(probe)), np.float64))
    return hashes


def claims_interval(layers: dict, probe_size: int) -> list[float]:
    """mean_difference of GMN-CNN over GMN-MLP pairings: value, interval and degrees of freedom."""
    blocks = cka.probe_blocks(probe_size, 4, seed=0)
    operands = {arch: [cka.prepare(layer) for layer in arch_layers[:3]] for arch, arch_layers in layers.items()}

    def pairing(other: str) -> statistics.PairingMatrix:
        values = cka.cka_matrix(operands["gmn"], operands[other])
        without = [[cka.cka_without_blocks(a, b, blocks) for b in operands[other]] for a in operands["gmn"]]
        return statistics.PairingMatrix(("gmn", other), values, np.moveaxis(np.array(without), -1, 0))

    difference = statistics.mean_difference(pairing("cnn"), pairing("mlp"), min_seeds=3, confidence=0.95)
    return [difference.value, *difference.interval, difference.degrees_of_freedom]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the manifest ({MANIFEST.relative_to(REPO)})")
    args = parser.parse_args()
    made = {"cpu": cpu_model(), "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}
    report = {"made_on": made, "hashes": computations()}
    if args.write:
        MANIFEST.parent.mkdir(exist_ok=True)
        MANIFEST.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
