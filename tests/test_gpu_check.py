"""bench/gpu_check.py (make gpu-check) runs on a machine with only torch, numpy, h5py, pyyaml, tqdm
and scikit-learn: here on the CPU with tiny sizes, with DGL, Snakemake and jsonschema made
unimportable, so the script and the GPU paths it needs cannot rot without a GPU."""

import subprocess
import sys

from conftest import REPO

WITHOUT_EXTRAS = (
    "import runpy, sys\n"
    "for name in ('dgl', 'snakemake', 'jsonschema'):\n"
    "    sys.modules[name] = None  # importing it now fails\n"
    "sys.argv = ['gpu_check.py', '--device', 'cpu', '--quick']\n"
    "runpy.run_path('bench/gpu_check.py', run_name='__main__')\n"
)


def test_gpu_check_runs_every_part_without_dgl_snakemake_or_jsonschema():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout
    for row in ("same stop steps", "max |PSNR device - CPU|", "GMN width 16: gradients", "activation dump",
                "GMN trained twice from one seed: same weights", "CNN trained twice from one seed: same weights",
                "INRs per second at 1000 steps", "seconds per epoch of 55k graphs", "CKA of one pair",
                "paper DAG: total (device-hours)"):  # fmt: skip
        assert row in table, row
    checks = [line for line in table.splitlines() if line.rstrip().endswith((" yes", " NO"))]
    assert len(checks) == 7 and all(line.rstrip().endswith("yes") for line in checks), table
