"""How the paper's figures are written: without a display, as PDFs that the same inputs make byte
for byte."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # pipeline jobs write files and have no display
from matplotlib.figure import Figure

from gmnrep.core.atomic import atomic_path


def save_pdf(figure: Figure, output: Path) -> None:
    with atomic_path(output) as tmp:
        # No creation date: the same inputs give the same file.
        figure.savefig(tmp, format="pdf", metadata={"CreationDate": None})
