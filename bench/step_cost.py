"""What a training step of a weight-space architecture costs at each width: the CPU time of one
optimizer step per INR (forward, backward, AdamW), one thread, at a preset's batch size, on a
run's real INRs, for the preset's network and for each width given. This measures the laptop
presets' shrink of a reference width that docs/science.md reports (e.g. the NFN's 512 channels).

Run (from the repository root, after a run that fitted the preset's INRs, e.g. `make fmnist`)::

    .venv/bin/python bench/step_cost.py --presets fmnist fmnist_scalegmn fmnist_metanetworks \\
        --run results/fmnist --arch nfnnp --width-key hchannels --widths 64 128 512
"""

import argparse
import time
from pathlib import Path

import torch

from gmnrep.config import layered
from gmnrep.models import registry
from gmnrep.models.samples import load_samples
from gmnrep.models.training import model_kwargs

REPOSITORY = Path(__file__).resolve().parents[1]


def seconds_per_step(model: torch.nn.Module, inputs, labels, steps: int, lr: float) -> float:
    """CPU seconds of one optimizer step on `inputs`, the median of `steps` after one warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    times = []
    for step in range(steps + 1):
        start = time.process_time()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:
            times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", required=True, help="preset files layered over config.yaml, in order")
    parser.add_argument("--run", type=Path, required=True, help="a finished run's results folder (its INRs)")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--arch", required=True)
    parser.add_argument("--width-key", required=True, help="the network setting that holds the width")
    parser.add_argument("--widths", nargs="+", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = layered([REPOSITORY / "config.yaml", *(REPOSITORY / "presets" / f"{p}.yaml" for p in args.presets)])
    settings = config["models"][args.arch]
    shards = sorted((args.run / "inrs" / args.dataset).glob("shard-*.h5"))
    if not shards:
        raise SystemExit(f"{args.run / 'inrs' / args.dataset}: no INR shards; run the preset first")
    samples = load_samples(args.arch, args.run / "data" / f"{args.dataset}.h5", shards)
    batch = settings["training"]["batch_size"]
    rows = torch.arange(batch)
    inputs, labels = samples.take(rows), samples.labels[rows]
    spec = registry.get(args.arch)
    print(f"presets {' + '.join(args.presets)}; {args.arch}, batch {batch}, one thread, median of {args.steps} steps")
    print(f"| {args.width_key} | parameters | ms per INR-step | ratio to the first |")
    print("|---|---|---|---|")
    first = None
    for width in args.widths:
        depth = settings["network"][args.width_key]
        network = {**settings["network"], args.width_key: [width] * len(depth) if isinstance(depth, list) else width}
        model = registry.build(args.arch, model_kwargs(args.arch, network, args.dataset, samples))
        if spec.prepare is not None:
            getattr(model, spec.prepare)(inputs)
        cost = seconds_per_step(model, inputs, labels, args.steps, settings["training"]["lr"]) / batch
        first = first or cost
        parameters = sum(p.numel() for p in model.parameters())
        print(f"| {width} | {parameters:,} | {1000 * cost:.2f} | {cost / first:.1f} |", flush=True)


if __name__ == "__main__":
    main()
