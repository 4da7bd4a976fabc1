"""Runs the reference ScaleGMN's own INR classification (jkalogero/scalegmn, inr_classification.py:
its data loading, model, training and model selection, unchanged) from its checkout, with the
python of an environment that has its dependencies; bench/parity_scalegmn.py starts it. What is
changed around it: shims.py.

    REFERENCE_LOG=log.jsonl python scalegmn.py CHECKOUT --conf CONFIG [the reference's own flags]
"""

import os
import sys
from pathlib import Path

import shims

checkout = Path(sys.argv.pop(1)).resolve()
shims.prepare(checkout)
os.chdir(checkout)

import inr_classification  # noqa: E402
import torch  # noqa: E402

inr_classification.wandb = shims.Recorder(os.environ["REFERENCE_LOG"])
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
inr_classification.main(args=inr_classification.setup_arg_parser().parse_args())
