"""A trained model's metrics record (written by gmnrep.models.training), read as the paper's
tables, figures and claims use it: refused unless it names a known dataset and architecture and
holds accuracies in [0, 1]."""

import json
from pathlib import Path

from gmnrep.core.errors import DataError
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES


def read_metrics(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable metrics file ({exc})") from exc
    if not isinstance(record, dict):
        raise DataError(f"{path}: not a metrics record (a JSON object), got {type(record).__name__}")
    missing = [key for key in ("dataset", "arch", "seed", "test_acc", "val_acc") if key not in record]
    if missing:
        raise DataError(f"{path}: metrics lack {', '.join(missing)}")
    if record["dataset"] not in DATASET_TITLES or record["arch"] not in ARCH_TITLES:
        raise DataError(f"{path}: unknown dataset {record['dataset']!r} or architecture {record['arch']!r}")
    for key in ("test_acc", "val_acc"):
        accuracy = record[key]
        # JSON may hold NaN or Infinity; Table 1 would show "nan ± nan" instead of refusing.
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
            raise DataError(f"{path}: {key} is {accuracy!r}, not a number in [0, 1]")
    return record
