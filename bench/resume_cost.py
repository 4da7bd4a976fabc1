"""Benchmark: what resume states cost a training, at the fmnist preset's GMN.

A training saves its resume state (gmnrep.models.resume) at the end of every `models.resume_every`
epochs (default 1). This trains the fmnist preset's GMN (presets/fmnist.yaml layered over
config.yaml: width, blocks, batch size, learning rate; one thread, as its jobs run) on as many
INRs per split as that preset fits (2000 / 250 / 500), of the preset recipe's SIREN shape, for
--epochs epochs with a state saved after every epoch, and prints: seconds per save (median, the
atomic write included), the state's size, seconds per epoch (saves included), and the share of
an epoch spent saving. Weights are SIREN initialisations spread as fitting spreads them: the cost
depends on the shapes only.

Run (from the repository root)::

    .venv/bin/python bench/resume_cost.py [--epochs 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from gmnrep import config as gmn_config  # noqa: E402
from gmnrep.inr.siren import SirenRecipe, init_params  # noqa: E402
from gmnrep.models import training  # noqa: E402
from gmnrep.models.resume import ResumePlan  # noqa: E402
from gmnrep.models.samples import Samples  # noqa: E402
from gmnrep.provenance.records import cpu_model  # noqa: E402


@dataclass(frozen=True)
class TimedPlan(ResumePlan):
    """A resume plan that records how long each save took (a list shared by its copies)."""

    seconds: list = None

    def save(self, epoch, state):
        start = time.perf_counter()
        super().save(epoch, state)
        self.seconds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    preset = gmn_config.layered([REPO / "config.yaml", REPO / "presets/fmnist.yaml"])
    gmn = preset["models"]["gmn"]
    recipe = SirenRecipe.from_config({**preset["inr"]["recipes"]["dwsnets"], **{"init": "siren"}})
    sizes = preset["inr"]["subset"]
    n = sum(sizes.values())
    generator = torch.Generator().manual_seed(0)
    weights = [(w * (1 + torch.rand(w.shape, generator=generator)), b) for w, b in init_params(recipe, 1, 0, range(n))]
    split = np.repeat(np.array([0, 1, 2], np.uint8), [sizes["train"], sizes["val"], sizes["test"]])
    samples = Samples(weights, torch.arange(n) % 10, split, np.arange(n))
    torch.set_num_threads(preset["models"]["threads"])
    settings = replace(training.TrainingSettings(**gmn["training"]), epochs=args.epochs)
    kwargs = training.model_kwargs("gmn", gmn["network"], "fashion_mnist", samples)
    with tempfile.TemporaryDirectory() as folder:
        plan = TimedPlan(Path(folder) / "seed-0.pt", "bench", 1, seconds=[])
        start = time.perf_counter()
        training.train("gmn", kwargs, samples, settings, 0, torch.device("cpu"), "fmnist GMN", resume=plan)
        epoch_seconds = (time.perf_counter() - start) / args.epochs
        state_mb = plan.path.stat().st_size / 1e6
    save_seconds = statistics.median(plan.seconds)
    print(
        f"resume states at the fmnist preset's GMN ({sizes['train']} training INRs, width {gmn['network']['hidden']},"
    )
    print(f"batch {settings.batch_size}, {torch.get_num_threads()} thread) on {cpu_model()}, torch {torch.__version__}")
    print(f"{'seconds per save (median of ' + str(len(plan.seconds)) + ')':<34} {save_seconds:10.4f}")
    print(f"{'state size (MB)':<34} {state_mb:10.2f}")
    print(f"{'seconds per epoch (saves included)':<34} {epoch_seconds:10.2f}")
    print(f"{'share of an epoch spent saving':<34} {save_seconds / epoch_seconds:10.2%}")


if __name__ == "__main__":
    main()
