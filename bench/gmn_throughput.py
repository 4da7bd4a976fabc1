"""Benchmark: graphs per second of a GMN training step, the project's message passing against
DGL's, in one run, on the same batch.

What is measured
----------------
One training step on a batch of ``--batch`` 2->32->32->1 SIRENs (the MNIST / Fashion-MNIST INR
architecture): from the weight stack to the logits, cross-entropy on random labels, backward, one
``torch.optim.AdamW`` step (lr 1e-3). Wherever a form needs a graph, building it from the weight
stack is part of the step, as it is in training. The same GMN (``gmnrep.models.gmn.GMN`` with its
defaults: ``--blocks`` 4 edge-updating blocks of width ``--hidden`` 64, mean readout, head 64,
10 classes, no dropout), float32, in four ways:

(a) project dense: ``GMN(form="dense")``, per-layer-pair broadcasts, no graph;
(b) project edge index: ``GMN(form="edge_index")``: ``build_graphs`` + ``GraphBatch.from_dgl``,
    then gathers and index_add_ on the edge list;
(c) DGL straightforward: the GMN's encoders, readout and head with every block run by
    ``gmn_dgl.dgl_block_forward(..., "straightforward")``: edge and message MLPs as UDFs on
    concatenations [h_u, h_v, e] and [h_u, e], ``update_all`` with ``fn.mean``;
(d) DGL split: the same with the "split" variant: node terms once per node, added onto edges with
    DGL builtins (u_add_v, u_add_e, v_add_e), copy_e + mean: the best plain DGL version.
(c) and (d) run on the CPU only; with ``--device cuda`` they are skipped.

Weights: the project's SIREN initialisation (``gmnrep.inr.siren.init_params``, "siren" init, so biases
are not 0), with each weight scaled by a random factor in [1, 2) as fitting spreads them; the GMN's
input statistics are set from them. Timing does not depend on the values (no data-dependent
control flow), only on the shapes.

For each thread count of ``--threads`` (CPU; default 1 and 2), every method gets its own copy of
the same initial GMN and AdamW, runs one untimed warm-up step (thread pool start, first
allocations, DGL's lazy graph formats), then ``--repeats`` timed steps, the methods taking turns
(round robin), so that load from other processes on a shared machine falls on all of them alike;
the median counts, and each method's best thread count is reported. All methods run in one
process with the allocator setting of the training jobs (``gmnrep.core.allocator.keep_freed_memory``:
large temporaries stay in the heap instead of being unmapped and page-faulted back in at every
step, which slowed every method by about 1.5x); ``--default-allocator`` leaves glibc's default.
Before timing, the four forms' logits on the batch are compared (they must agree to 1e-4;
otherwise a WARNING is printed).

Run (from the repository root)::

    .venv/bin/python bench/gmn_throughput.py --repeats 3
    .venv/bin/python bench/gmn_throughput.py --batch 64 --hidden 32 --threads 2
    .venv/bin/python bench/gmn_throughput.py --device cuda --batch 1024
"""

import pinned_numerics  # noqa: F401 (first: CPU numerics pinned before torch loads, as in every job)

# isort: split
import argparse
import copy
import os
import statistics
import time

import torch
import torch.nn.functional as F

from config_recipes import config_recipe
from gmn_dgl import dgl_representations
from gmnrep.core.allocator import keep_freed_memory
from gmnrep.inr.siren import init_params
from gmnrep.models.gmn import GMN
from gmnrep.provenance.records import cpu_model

SEED = 0
LAYER_SIZES = (2, 32, 32, 1)
NUM_CLASSES = 10
AGREEMENT = 1e-4
# The INR architecture with the original SIREN init (config.yaml's nfn recipe: nonzero biases);
# only the shapes and the init matter here.
RECIPE = config_recipe("nfn")

METHODS = {  # name -> (how the logits are computed, CPU only)
    "project dense": (lambda model, weights: _project(model, weights, "dense"), False),
    "project edge index": (lambda model, weights: _project(model, weights, "edge_index"), False),
    "DGL straightforward": (lambda model, weights: dgl_representations(model, weights, "straightforward")[0], True),
    "DGL split": (lambda model, weights: dgl_representations(model, weights, "split")[0], True),
}


def _project(model: GMN, weights, form: str) -> torch.Tensor:
    model.form = form
    return model(weights)


def realistic_weights(batch: int, device: str):
    g = torch.Generator().manual_seed(SEED)
    return [
        ((w * (1 + torch.rand(w.shape, generator=g))).to(device), b.to(device))
        for w, b in init_params(RECIPE, LAYER_SIZES[-1], SEED, range(batch))
    ]


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


class Trainer:
    """One method's own copy of the initial GMN and its AdamW."""

    def __init__(self, forward, initial: GMN, weights, labels, device: str):
        self.forward, self.weights, self.labels, self.device = forward, weights, labels, device
        self.model = copy.deepcopy(initial)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)

    def step(self) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        loss = F.cross_entropy(self.forward(self.model, self.weights), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        synchronize(self.device)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=256, help="parameter graphs per step")
    parser.add_argument("--hidden", type=int, default=64, help="GMN width")
    parser.add_argument("--blocks", type=int, default=4, help="edge-updating blocks")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per configuration; the median counts")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts to try on the CPU")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the DGL variants run on the CPU only)")
    parser.add_argument("--default-allocator", action="store_true", help="keep glibc's default mmap/trim behaviour")
    args = parser.parse_args()
    kept = False if args.default_allocator else keep_freed_memory()
    on_cuda = args.device.startswith("cuda")
    threads = [torch.get_num_threads()] if on_cuda else [int(t) for t in args.threads.split(",")]

    if on_cuda:
        print(f"device: {torch.cuda.get_device_name(args.device)}")
    print(
        f"torch {torch.__version__}; default threads {torch.get_num_threads()}; os.cpu_count {os.cpu_count()}; "
        f"CPU: {cpu_model()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"allocator: {'freed memory kept in the heap' if kept else 'glibc default'}; "
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset)')}; float32; seed {SEED}"
    )
    print(
        f"GMN: {args.blocks} blocks, hidden {args.hidden}, mean readout, {NUM_CLASSES} classes; "
        f"batch {args.batch} SIRENs {'->'.join(map(str, LAYER_SIZES))}; AdamW; "
        f"median of {args.repeats} steps after 1 warm-up step"
    )

    torch.manual_seed(SEED)
    weights = realistic_weights(args.batch, args.device)
    labels = torch.randint(NUM_CLASSES, (args.batch,), device=args.device)
    initial = GMN(LAYER_SIZES, NUM_CLASSES, hidden=args.hidden, blocks=args.blocks).to(args.device)
    initial.set_input_statistics(weights)
    methods = {name: fn for name, (fn, cpu_only) in METHODS.items() if not (cpu_only and on_cuda)}
    if on_cuda:
        print("DGL variants skipped: they run on the CPU only (gmn_dgl)")

    with torch.no_grad():
        reference = methods["project dense"](copy.deepcopy(initial), weights)
        for name, forward in methods.items():
            diff = (forward(copy.deepcopy(initial), weights) - reference).abs().max().item()
            print(f"check {name:<20}: logits max |diff| vs project dense {diff:.1e}")
            if not diff <= AGREEMENT:
                print(f"!!!!! WARNING: {name} and project dense disagree by {diff:.1e} (> {AGREEMENT}) !!!!!")

    print(f"\n{'method':<20} {'threads':>7} {'median s':>9} {'min s':>7} {'max s':>7} {'graphs/s':>9}")
    best = {}
    for t in threads:
        torch.set_num_threads(t)
        trainers = {name: Trainer(forward, initial, weights, labels, args.device) for name, forward in methods.items()}
        for trainer in trainers.values():
            trainer.step()  # warm-up, untimed
        seconds = {name: [] for name in trainers}
        for _ in range(args.repeats):  # round robin: load from elsewhere hits every method alike
            for name, trainer in trainers.items():
                seconds[name].append(trainer.step())
        for name, times in seconds.items():
            median = statistics.median(times)
            print(
                f"{name:<20} {t:>7} {median:>9.3f} {min(times):>7.3f} {max(times):>7.3f} {args.batch / median:>9.1f}",
                flush=True,
            )
            if name not in best or median < best[name][0]:
                best[name] = (median, t)

    print("\n=== best thread setting of each; ratio = project dense graphs/s over the method's ===")
    dense_rate = args.batch / best["project dense"][0]
    for name, (median, t) in best.items():
        rate = args.batch / median
        print(
            f"{name:<20} {rate:>8.1f} graphs/s ({t} thread{'s' * (t > 1)})   "
            f"project dense / this: {dense_rate / rate:>5.2f}x"
        )


if __name__ == "__main__":
    main()
