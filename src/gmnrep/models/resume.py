"""Resume states: what a training job killed mid-way (a node failure, preemption, a time limit) needs
to go on from its last saved epoch and end with the bytes it would have written uninterrupted.

A state is written atomically every `every` epochs, and at a training's last epoch (so that a job
of several trainings, such as the data-limited matched twin, redoes none that finished), to a
hidden file beside the job's checkpoint. It holds everything the next epoch depends on (see
`gmnrep.models.training.train`) and a fingerprint of what made it: the job's settings, the digests
of the code it runs and the sha256 of its inputs. A state with another fingerprint, of another
format, or unreadable is ignored with a line in the job's log and overwritten, never mixed in. The
job removes its states once its outputs are complete. They are not artifacts: Snakemake does not
know them, the audit skips them (`is_resume_state`).
"""

import io
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from gmnrep.core.atomic import atomic_path
from gmnrep.core.hashing import config_hash

FORMAT_VERSION = 1
SUFFIX = ".resume.pt"


def is_resume_state(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(SUFFIX)


@dataclass(frozen=True)
class ResumePlan:
    """Where a job keeps the resume state of its training `part` (None: its only one), what the
    state must have been made by, and how often it is saved."""

    model_path: Path
    fingerprint: str
    every: int
    part: str | None = None

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"resume states every {self.every} epochs: must be at least 1")

    @property
    def path(self) -> Path:
        stem = self.model_path.name.removesuffix(self.model_path.suffix)
        part = f".{self.part}" if self.part else ""
        return self.model_path.parent / f".{stem}{part}{SUFFIX}"

    def for_part(self, part: str) -> "ResumePlan":
        """The plan of one of several trainings of the job, kept apart by `part`."""
        safe = "".join(c if c.isalnum() else "-" for c in part)
        return replace(self, part=safe)

    def bound_to(self, training: dict) -> "ResumePlan":
        """The plan of the training `training` describes: its state is refused by another one."""
        return replace(self, fingerprint=config_hash({"job": self.fingerprint, "training": training}))

    def due(self, epoch: int, last_epoch: int) -> bool:
        return epoch % self.every == 0 or epoch == last_epoch

    def save(self, epoch: int, state: dict) -> None:
        import torch  # here, not above: the audit asks is_resume_state without loading torch

        buffer = io.BytesIO()
        torch.save({"format_version": FORMAT_VERSION, "fingerprint": self.fingerprint, "epoch": epoch, **state}, buffer)
        with atomic_path(self.path) as tmp:
            tmp.write_bytes(buffer.getvalue())

    def load(self, name: str) -> dict | None:
        """The saved state if it was made by this plan's job, else None (saying why in the log)."""
        import torch

        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for unreadable files
            return _ignored(name, self.path, f"it is not readable ({exc})")
        if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
            return _ignored(name, self.path, f"its format is not version {FORMAT_VERSION}")
        if state.get("fingerprint") != self.fingerprint:
            return _ignored(name, self.path, "it was written for other settings, code or inputs")
        return state

    def remove(self) -> None:
        """Remove every resume state of the job (each part's)."""
        stem = self.model_path.name.removesuffix(self.model_path.suffix)
        for path in self.model_path.parent.glob(f".{stem}*{SUFFIX}"):
            if path.name == f".{stem}{SUFFIX}" or path.name.startswith(f".{stem}."):
                path.unlink(missing_ok=True)


def _ignored(name: str, path: Path, why: str) -> None:
    print(f"{name}: resume state {path} ignored: {why}; training from epoch 1", file=sys.stderr)
    return None
