"""Runs neural-graphs' own INR classification (mkofinas/neural-graphs,
experiments/inr_classification/main.py: its Hydra configuration, data loading, augmentation, model,
training and evaluation, unchanged) from its checkout, with the python of an environment that has
its dependencies; bench/parity_gmn.py starts it. What is changed around it: shims.py (wandb is
the recorder before main.py imports it, so wandb need not be installed).

    REFERENCE_LOG=log.jsonl python neural_graphs.py CHECKOUT [Hydra overrides: model=pna data=fmnist ...]
"""

import os
import runpy
import sys
from pathlib import Path

import shims

checkout = Path(sys.argv.pop(1)).resolve()
shims.prepare(checkout)
sys.modules["wandb"] = shims.Recorder(os.environ["REFERENCE_LOG"])

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
# as a script, as the reference runs it: Hydra finds its configs beside the calling file
runpy.run_path(str(checkout / "experiments/inr_classification/main.py"), run_name="__main__")
