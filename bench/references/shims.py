"""What the reference implementations' entry points (scalegmn.py, neural_graphs.py beside this file)
change around the references' own code, none of which touches what they compute.

- torch 2.13's LRScheduler no longer takes the `verbose` argument that both references' warmup
  schedulers pass: it is accepted and dropped.
- The references report their metrics only through wandb: `Recorder` takes wandb's place and writes
  each logged dict as one JSON line to a file (nothing is sent anywhere).
- torchvision is the import-only stand-in in the folder beside this file (on the path first).
"""

import json
import sys
import types
from pathlib import Path

import torch
from torch.optim import lr_scheduler

HERE = Path(__file__).resolve().parent


def prepare(checkout: Path) -> None:
    """Put the stand-ins and the reference's checkout on the path and drop `verbose`."""
    sys.path[:0] = [str(HERE), str(checkout)]
    scheduler_init = lr_scheduler.LRScheduler.__init__

    def without_verbose(self, optimizer, last_epoch=-1, verbose=None):
        scheduler_init(self, optimizer, last_epoch=last_epoch)

    lr_scheduler.LRScheduler.__init__ = without_verbose


class Recorder(types.ModuleType):
    """What the references call of wandb: init, log, Settings, run.path and plot.confusion_matrix."""

    def __init__(self, path: str):
        super().__init__("wandb")
        self.file = open(path, "w")  # noqa: SIM115 - open for the whole run
        self.plot = types.SimpleNamespace(confusion_matrix=lambda **kwargs: None)
        self.run = types.SimpleNamespace(path="offline/reference/run")
        self.Settings = dict

    def init(self, config=None, **kwargs):
        self.log({"config": json.dumps(config, default=str)})

    def log(self, values, step=None):
        plain = {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in values.items()}
        plain = {k: v for k, v in plain.items() if isinstance(v, int | float | str)}
        self.file.write(json.dumps(plain | ({} if step is None else {"_step": step})) + "\n")
        self.file.flush()
