"""Every model's predicted class on a dataset's probe samples, read from the activation dumps, and
which models are right on which samples: what Table 2's agreement, Figure 4 and the claims' C3 use."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmnrep.core.errors import DataError
from gmnrep.paper.vocabulary import ARCH_TITLES, IMAGE_ARCHS, WEIGHT_SPACE_ARCHS
from gmnrep.representations import dump_file
from gmnrep.representations.pairs import Model, model_id


@dataclass
class ProbePredictions:
    """Every model's predicted class on a dataset's probe samples, in the dumps' shared order."""

    image_index: np.ndarray
    label: np.ndarray
    by_model: dict[Model, np.ndarray]  # ordered by architecture (ARCH_TITLES), then seed


def read_predictions(paths: list[Path], dataset: str) -> ProbePredictions:
    """Predictions of each dump of `dataset`; every dump must list the same probe samples in the
    same order, as CKA and the per-sample comparisons rely on."""
    if not paths:
        raise DataError(f"no activation dumps given for dataset {dataset!r}")
    by_model, seen, first = {}, {}, None
    for path in paths:
        dump = dump_file.read(path)
        if dump.attrs.get("dataset") != dataset:
            raise DataError(f"{path}: a dump of dataset {dump.attrs.get('dataset')!r}, but was given for {dataset!r}")
        arch, seed = dump.attrs.get("arch"), dump.attrs.get("seed")
        if arch not in ARCH_TITLES or seed is None:
            raise DataError(f"{path}: attributes arch {arch!r} and seed {seed!r} do not name a model")
        model = (str(arch), int(seed))
        if model in seen:
            raise DataError(f"{path}: {model_id(model)} is also dumped in {seen[model]}")
        if first is None:
            first = (path, dump)
        elif not all(np.array_equal(getattr(dump, key), getattr(first[1], key)) for key in ("image_index", "label")):
            raise DataError(
                f"{path}: its probe samples (image_index, label) differ from those of {first[0]}; every dump "
                f"of a dataset must list the same samples in the same order"
            )
        seen[model] = path
        by_model[model] = dump.predictions
    ordered = dict(sorted(by_model.items(), key=lambda item: (list(ARCH_TITLES).index(item[0][0]), item[0][1])))
    return ProbePredictions(first[1].image_index, first[1].label, ordered)


def family_members(predictions: ProbePredictions, arch: str) -> np.ndarray:
    """(models of `arch`, samples): whether each of its models is right on each probe sample."""
    rows = [p == predictions.label for (a, _), p in predictions.by_model.items() if a == arch]
    return np.array(rows).reshape(-1, len(predictions.label))


def family_correctness(
    predictions: ProbePredictions, subject: str, image_archs: tuple[str, ...] = IMAGE_ARCHS
) -> tuple[np.ndarray, np.ndarray]:
    """(models of weight-space architecture `subject`, samples) and (models of `image_archs`,
    samples): whether each model is right on each probe sample."""
    image = [family_members(predictions, arch) for arch in image_archs]
    return family_members(predictions, subject), np.concatenate(image)


def weight_space_present(predictions: ProbePredictions) -> list[str]:
    """The weight-space architectures with dumps among `predictions`, in display order."""
    return [arch for arch in WEIGHT_SPACE_ARCHS if any(a == arch for a, _ in predictions.by_model)]


def agreement(predictions: ProbePredictions, model_a: Model, model_b: Model, source: Path) -> float:
    """Fraction of probe samples on which the two models predict the same class."""
    missing = [model_id(m) for m in (model_a, model_b) if m not in predictions.by_model]
    if missing:
        raise DataError(f"{source}: no activation dump of {', '.join(missing)} among the dataset's dumps")
    return float(np.mean(predictions.by_model[model_a] == predictions.by_model[model_b]))
