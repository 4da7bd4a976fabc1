"""CSV and text artifacts: written whole and atomically, read back with errors that name the file."""

import csv
import io
from pathlib import Path

from gmnrep.core.atomic import atomic_path
from gmnrep.core.errors import DataError


def to_csv(rows: list[dict], columns: tuple[str, ...] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns or rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_texts(texts: dict[Path, str]) -> None:
    for path, text in texts.items():
        with atomic_path(path) as tmp:
            tmp.write_text(text)


def read_csv(path: Path, columns: tuple[str, ...], what: str) -> list[dict]:
    """The rows of a CSV the pipeline wrote; DataError naming the file if unreadable, empty or lacking a column."""
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            present = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable {what} ({exc})") from exc
    missing = [column for column in columns if column not in present]
    if missing:
        raise DataError(f"{path}: {what} lacks column(s) {', '.join(missing)}")
    if not rows:
        raise DataError(f"{path}: {what} has no rows")
    return rows
