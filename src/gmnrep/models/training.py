"""Training one model of any registered architecture (gmnrep.models.registry) for one seed.

Every architecture sees the same samples (gmnrep.models.samples): the INRs of a dataset's shards,
and for the image networks the images those INRs were fitted to, with the INRs' train / val / test
split. The seed fixes initialisation, data order and dropout, so the same
job on the same hardware writes the same weights. The model kept is the one of the epoch with the
best validation accuracy (ties: lower validation loss); its test accuracy is the one reported.
"""

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gmnrep.core.atomic import atomic_path
from gmnrep.core.device import resolve_device
from gmnrep.core.errors import DataError
from gmnrep.core.hashing import config_hash
from gmnrep.data.sources import SOURCES
from gmnrep.data.splits import SPLIT_NAMES
from gmnrep.models import checkpoints, registry
from gmnrep.models.architectures import WEIGHTS
from gmnrep.models.resume import ResumePlan
from gmnrep.models.samples import Samples, input_shape, load_samples
from gmnrep.models.weight_augmentation import WeightAugmentation


@dataclass(frozen=True)
class TrainingSettings:
    """AdamW with a linear warmup over `warmup_steps` optimizer steps, then a constant or cosine
    (to 0 at the last step) learning rate; gradients clipped to norm `clip_grad_norm` if set;
    `augmentation` (weight_augmentation settings) applies to training batches of INR weights only."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int = 0
    schedule: str = "constant"
    clip_grad_norm: float | None = None
    augmentation: dict | None = None

    def lr_factor(self, step: int, total_steps: int) -> float:
        """Multiplier of `lr` at optimizer step `step` (0-based) of `total_steps`."""
        warmup = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.schedule == "cosine":
            return warmup * 0.5 * (1 + math.cos(math.pi * step / total_steps))
        return warmup


def model_kwargs(arch: str, network: dict, dataset: str, samples: Samples) -> dict:
    """Constructor arguments of `arch` from its `network` settings and the data it will see."""
    return registry.get(arch).model_kwargs(network, SOURCES[dataset].num_classes, input_shape(samples.inputs))


def _batches(rows: torch.Tensor, batch_size: int):
    return (rows[i : i + batch_size] for i in range(0, len(rows), batch_size))


@torch.no_grad()
def evaluate(model: nn.Module, samples: Samples, rows: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over `rows`."""
    model.eval()
    loss, correct = 0.0, 0
    for batch in _batches(rows, batch_size):
        logits = model(samples.take(batch))
        labels = samples.labels[batch]
        loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    return loss / len(rows), correct / len(rows)


@dataclass(frozen=True)
class AccuracyTarget:
    """Stop a training at the first evaluation, every `evaluate_every` optimizer steps, whose
    validation accuracy reaches `accuracy` (a fraction); the model kept is the one of that step."""

    accuracy: float
    evaluate_every: int


@dataclass
class TrainingResult:
    state_dict: dict
    history: list[dict]  # per epoch; a training stopped at a target ends with its partial epoch
    best_epoch: int
    num_parameters: int
    # with a target: whether it was reached, at which step, and every (step, validation accuracy) before
    stop: dict | None = None


def _checked_evaluation(model, samples: Samples, rows: torch.Tensor, batch_size: int, name: str, when: str):
    loss, acc = evaluate(model, samples, rows, batch_size)
    if not np.isfinite(loss):
        raise FloatingPointError(f"{name}: loss is {loss} {when}; no checkpoint written")
    return loss, acc


@dataclass
class TrainingProgress:
    """What a training has done so far: per-epoch records, the best epoch's record and model, the
    optimizer steps taken and, with a target, the evaluations between steps."""

    history: list[dict] = field(default_factory=list)
    best: dict | None = None
    best_state: dict | None = None
    steps_done: int = 0
    evaluations: list[list] = field(default_factory=list)


def _random_states(generators: dict[str, torch.Generator], device: torch.device) -> dict:
    """Every random generator a training draws from: its own, and torch's global ones (dropout)."""
    states = {name: g.get_state() for name, g in generators.items()}
    states["torch"] = torch.get_rng_state()
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_random_states(states: dict, generators: dict[str, torch.Generator], device: torch.device) -> None:
    for name, generator in generators.items():
        generator.set_state(states[name])
    torch.set_rng_state(states["torch"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], device)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class EpochLog:
    """A training's progress: a tqdm bar on a terminal; in a file (a job's log, on a cluster too)
    one line per epoch with its metrics, the best validation accuracy so far and the time left."""

    def __init__(self, name: str, done: int, epochs: int):
        self.name, self.done, self.epochs = name, done, epochs
        self.bar = tqdm(total=epochs, initial=done, desc=name, unit="epoch") if sys.stderr.isatty() else None
        self.start, self.first = time.monotonic(), done

    def epoch(self, record: dict, best: dict, saved: bool) -> None:
        self.done = record["epoch"]
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record['train_loss']:.3f}", val=f"{record['val_acc']:.3f}")
            return
        per_epoch = (time.monotonic() - self.start) / (self.done - self.first)
        print(
            f"{self.name}: epoch {self.done}/{self.epochs}: train loss {record['train_loss']:.4f}, "
            f"val acc {record['val_acc']:.4f}; best val acc {best['val_acc']:.4f} (epoch {best['epoch']}); "
            f"{per_epoch:.1f} s/epoch, {_duration(per_epoch * (self.epochs - self.done))} left"
            + ("; resume state saved" if saved else ""),
            file=sys.stderr,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(
    arch: str,
    kwargs: dict,
    samples: Samples,
    settings: TrainingSettings,
    seed: int,
    device: torch.device,
    name: str,
    target: AccuracyTarget | None = None,
    resume: ResumePlan | None = None,
) -> TrainingResult:
    """Train a fresh `arch` model; raises FloatingPointError (naming `name`) on a non-finite loss.
    With a `target`, evaluations between steps change nothing of the training (no random draws,
    eval mode only while they run), so the model kept is the same training's state at that step.
    With `resume`, a state is saved at the end of the epochs it names, and the training goes on from
    a saved state of the same training instead of starting again: the result is the same, bit for
    bit, as an uninterrupted training's."""
    torch.manual_seed(seed)
    spec = registry.get(arch)
    model = registry.build(arch, kwargs)
    rows = {s: torch.from_numpy(np.flatnonzero(samples.split == code)).to(device) for s, code in SPLIT_NAMES.items()}
    for split_name, split_rows in rows.items():
        if len(split_rows) == 0:
            raise DataError(f"{name}: no {split_name} samples in the shards")
    if spec.prepare is not None:
        getattr(model, spec.prepare)(samples.take(rows["train"].cpu()))
    model.to(device)
    samples = samples.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    total_steps = settings.epochs * math.ceil(len(rows["train"]) / settings.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: settings.lr_factor(step, total_steps))
    augmentation = WeightAugmentation.from_config(settings.augmentation if spec.inputs == WEIGHTS else None)
    generators = {"order": torch.Generator().manual_seed(seed), "augmentation": torch.Generator().manual_seed(seed + 1)}
    progress = TrainingProgress()
    if resume is not None:
        split_sizes = {s: len(r) for s, r in rows.items()}
        identity = {"arch": arch, "kwargs": kwargs, "settings": asdict(settings), "seed": seed, "name": name}
        resume = resume.bound_to({**identity, "target": target and asdict(target), "splits": split_sizes})
        saved = resume.load(name)
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            _set_random_states(saved["random"], generators, device)
            progress = TrainingProgress(**saved["progress"])
            print(f"{name}: resumed from epoch {saved['epoch']} of {settings.epochs} ({resume.path})", file=sys.stderr)
    log = EpochLog(name, len(progress.history), settings.epochs)
    for epoch in range(len(progress.history) + 1, settings.epochs + 1):
        model.train()
        shuffled = rows["train"][torch.randperm(len(rows["train"]), generator=generators["order"]).to(device)]
        # Sums stay on the device (float64: the same arithmetic as Python floats), so a GPU never
        # waits for the host within an epoch; a non-finite loss is found at the epoch's end, and
        # the updates after it are thrown away with the model.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = 0
        first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        for step, batch in enumerate(_batches(shuffled, settings.batch_size)):
            inputs = samples.take(batch)
            logits = model(augmentation.apply(inputs, generators["augmentation"]))
            loss = F.cross_entropy(logits, samples.labels[batch])
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss), step, first_bad)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.clip_grad_norm:
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach().double() * len(batch)
            correct += (logits.argmax(1) == samples.labels[batch]).sum()
            seen += len(batch)
            progress.steps_done += 1
            if target is None or progress.steps_done % target.evaluate_every:
                continue
            if first_bad.item() >= 0:
                break  # raised below
            when = f"at step {progress.steps_done}"
            _, val_acc = _checked_evaluation(model, samples, rows["val"], settings.batch_size, name, when)
            model.train()
            progress.evaluations.append([progress.steps_done, val_acc])
            if val_acc < target.accuracy:
                continue
            record = {"epoch": epoch, "step": progress.steps_done, "train_loss": loss_sum.item() / seen}
            record["train_acc"] = correct.item() / seen
            for split_name in ("val", "test"):
                loss_value, acc = _checked_evaluation(model, samples, rows[split_name], settings.batch_size, name, when)
                record.update({f"{split_name}_loss": loss_value, f"{split_name}_acc": acc})
            log.close()
            stop = {"method": "steps", "target_val_acc": target.accuracy, "reached": True, "step": progress.steps_done}
            stop["evaluations"] = progress.evaluations
            return TrainingResult(_cpu_copy(model), [*progress.history, record], epoch, _num_parameters(model), stop)
        if first_bad.item() >= 0:
            raise FloatingPointError(
                f"{name}: non-finite loss at epoch {epoch}, batch {first_bad.item()}; no checkpoint written"
            )
        record = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / len(shuffled),
            "train_acc": correct.item() / len(shuffled),
        }
        for split_name in ("val", "test"):
            when = f"after epoch {epoch}"
            loss_value, acc = _checked_evaluation(model, samples, rows[split_name], settings.batch_size, name, when)
            record.update({f"{split_name}_loss": loss_value, f"{split_name}_acc": acc})
        progress.history.append(record)
        best = progress.best
        if best is None or (record["val_acc"], -record["val_loss"]) > (best["val_acc"], -best["val_loss"]):
            progress.best, progress.best_state = record, _cpu_copy(model)
        saving = resume is not None and resume.due(epoch, settings.epochs)
        if saving:
            resume.save(
                epoch,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "random": _random_states(generators, device),
                    "progress": vars(progress),
                },
            )
        log.epoch(record, progress.best, saving)
    log.close()
    stop = None
    if target is not None:  # never reached: the converged model, and the metrics say so
        stop = {"method": "steps", "target_val_acc": target.accuracy, "reached": False, "step": None}
        stop["evaluations"] = progress.evaluations
    history = progress.history
    return TrainingResult(progress.best_state, history, progress.best["epoch"], _num_parameters(model), stop)


def _cpu_copy(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


@dataclass(frozen=True)
class TrainingJob:
    """One model's training: `arch` with `seed` on `dataset`, with its settings (config
    models.<network>: `network` for its constructor, `training` for TrainingSettings) on `device`
    (config models.device); it reads the dataset's data file and INR shards and writes a checkpoint
    and its metrics."""

    dataset: str
    arch: str
    seed: int
    network: dict
    training: dict
    data_path: Path
    shard_paths: list[Path]
    model_path: Path
    metrics_path: Path
    device: str = "auto"

    @property
    def name(self) -> str:
        """How logs and errors name the model: 'digits/gmn/seed-0'."""
        return f"{self.dataset}/{self.arch}/seed-{self.seed}"


def save_training(
    job: TrainingJob,
    result: TrainingResult,
    samples: Samples,
    kwargs: dict,
    device: torch.device,
    stop_rule: dict | None = None,
) -> dict:
    """Write a training's checkpoint and its metrics; `stop_rule` (how a matched twin was chosen:
    its target, method and settings) enters the config hash, and `result.stop` the metrics."""
    best = result.history[result.best_epoch - 1]
    info = {"dataset": job.dataset, "seed": job.seed, "best_epoch": result.best_epoch, "training": job.training}
    info["config_hash"] = config_hash(
        {"network": job.network, "training": job.training, "seed": job.seed, **(stop_rule or {})}
    )
    metrics = {
        **info,
        "arch": job.arch,
        "test_acc": best["test_acc"],
        "val_acc": best["val_acc"],
        "samples": {name: int((samples.split == code).sum()) for name, code in SPLIT_NAMES.items()},
        "num_parameters": result.num_parameters,
        "device": device_name(device),
        "history": result.history,
    }
    if result.stop is not None:
        metrics["stop"] = result.stop
    checkpoints.save(job.model_path, job.arch, kwargs, result.state_dict, info)
    with atomic_path(job.metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return metrics


def train_and_save(job: TrainingJob, target: AccuracyTarget | None = None, resume: ResumePlan | None = None) -> dict:
    """Train the job's model on the dataset's INR samples, stopped at `target` if given, going on
    from a saved state of `resume` if there is one; write the checkpoint and its metrics, then
    remove the resume states."""
    on = resolve_device(job.device)
    samples = load_samples(job.arch, job.data_path, job.shard_paths)
    kwargs = model_kwargs(job.arch, job.network, job.dataset, samples)
    result = train(job.arch, kwargs, samples, TrainingSettings(**job.training), job.seed, on, job.name, target, resume)
    stop_rule = None if target is None else {"target": asdict(target)}
    metrics = save_training(job, result, samples, kwargs, on, stop_rule)
    if resume is not None:
        resume.remove()
    return metrics
