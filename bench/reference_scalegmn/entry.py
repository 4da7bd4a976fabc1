"""Runs the reference ScaleGMN's own INR classification (jkalogero/scalegmn, inr_classification.py:
its data loading, model, training and model selection, unchanged) from its checkout, with the
python of an environment that has its dependencies; bench/parity_scalegmn.py starts it.

Three adaptations, none of which touches what it computes: torch 2.13's LRScheduler no longer takes
the `verbose` argument the reference's WarmupLRScheduler passes (dropped); the reference reports
its metrics only through wandb.log, which a recorder takes instead, writing each logged dict as one
JSON line to $REFERENCE_LOG (nothing is sent anywhere); torchvision is an import-only stand-in.

    REFERENCE_LOG=log.jsonl python entry.py CHECKOUT --conf CONFIG [the reference's own flags]
"""

import json
import os
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
checkout = Path(sys.argv.pop(1)).resolve()
sys.path[:0] = [str(HERE), str(checkout)]
os.chdir(checkout)

import torch  # noqa: E402
from torch.optim import lr_scheduler  # noqa: E402

_scheduler_init = lr_scheduler.LRScheduler.__init__


def _without_verbose(self, optimizer, last_epoch=-1, verbose=None):
    _scheduler_init(self, optimizer, last_epoch=last_epoch)


lr_scheduler.LRScheduler.__init__ = _without_verbose


class Recorder(types.ModuleType):
    """What inr_classification.py calls of wandb: init, log and plot.confusion_matrix."""

    def __init__(self, path: str):
        super().__init__("wandb")
        self.file = open(path, "w")  # noqa: SIM115 - open for the whole run
        self.plot = types.SimpleNamespace(confusion_matrix=lambda **kwargs: None)

    def init(self, config=None, **kwargs):
        self.log({"config": json.dumps(config, default=str)})

    def log(self, values, step=None):
        plain = {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}
        plain = {k: v for k, v in plain.items() if isinstance(v, int | float | str)}
        self.file.write(json.dumps(plain | ({} if step is None else {"_step": step})) + "\n")
        self.file.flush()


import inr_classification  # noqa: E402

inr_classification.wandb = Recorder(os.environ["REFERENCE_LOG"])
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
inr_classification.main(args=inr_classification.setup_arg_parser().parse_args())
