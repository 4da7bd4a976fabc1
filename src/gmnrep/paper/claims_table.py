"""The claims table: each claim's statement, its verdicts, the table's columns (gmnrep.paper.claims
fills its rows), and the table written as CSV, Markdown and LaTeX, with the findings summary (each
claim's verdict per dataset, then the table) that the results page (gmnrep findings) and the
report's first page (gmnrep.paper.overview) show."""

from pathlib import Path

from gmnrep.core.csv_files import read_csv, to_csv, write_texts
from gmnrep.core.errors import DataError
from gmnrep.paper.text_tables import latex_table, markdown_table
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED = "holds", "does not hold", "inconclusive", "confounded"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, CONFOUNDED)
CONTEXT = "context"  # a row shown beside a claim's rows, not judged and not in its verdict
# Each claim as stated of a weight-space architecture {W} (claim_text).
CLAIMS = {
    "C1": "seed sensitivity: {W}-{W} CKA is lower than MLP-MLP and CNN-CNN",
    "C2": "different representations at similar accuracy: {W}-MLP and {W}-CNN CKA are lower than MLP-CNN",
    "C3": (
        "complementary predictions: more samples than chance are right for every {W} and wrong for every image "
        "network, and more than between two image architectures"
    ),
}
COLUMNS = (
    "dataset",
    "claim",
    "subject",
    "comparison",
    "layer",
    "verdict",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "expected",
    "chance_cka",
    "accuracy_gap",
    "sample_size",
    "reason",
)


def claim_text(claim: str, subject: str) -> str:
    """Claim `claim` stated of weight-space architecture `subject`."""
    return CLAIMS[claim].format(W=ARCH_TITLES[subject])


def _interval_or_p(row: dict) -> str:
    if row["ci_low"] != "":
        return f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
    if row["p_value"] != "":
        return f"p = {row['p_value']:.2g} (expected {row['expected']:.1f})"
    return ""


def _value(row: dict) -> str:
    if row["value"] == "":
        return ""
    return str(row["value"]) if isinstance(row["value"], int) else f"{row['value']:.3f}"


def claim_cells(row: dict) -> dict[str, str]:
    """A claims row's cells as a person reads them (numbers rounded, the interval or p in one cell)."""
    return {
        "dataset": DATASET_TITLES[row["dataset"]],
        "claim": row["claim"],
        "subject": ARCH_TITLES[row["subject"]],
        "comparison": row["comparison"],
        "layer": str(row["layer"]),
        "value": _value(row),
        "interval": _interval_or_p(row),
        "chance": "" if row["chance_cka"] == "" else f"{row['chance_cka']:.3f}",
        "verdict": row["verdict"],
    }


def _cells(row: dict) -> list[str]:
    return list(claim_cells(row).values())


HEADER = ["Dataset", "Claim", "Of", "Comparison", "Layer", "Value", "Interval / p", "Chance CKA", "Verdict"]


def claims_markdown(rows: list[dict]) -> str:
    return markdown_table([*HEADER, "Why"], [[*_cells(r), r["reason"]] for r in rows])


def claims_latex(rows: list[dict]) -> str:
    body = [[cell.replace("%", r"\%").replace("<", "$<$") for cell in _cells(r)] for r in rows]
    return latex_table("llllrrlrl", [h.replace("%", r"\%") for h in HEADER], body)


def claim_verdicts(rows: list[dict]) -> dict[tuple[str, str, str], str]:
    """(dataset, claim, subject) -> one verdict when all its rows agree, else e.g.
    'mixed: 2 holds, 2 inconclusive'."""
    grouped = {}
    for row in rows:
        if row["verdict"] == CONTEXT:
            continue
        grouped.setdefault((row["dataset"], row["claim"], row["subject"]), []).append(row["verdict"])
    summary = {}
    for key, verdicts in grouped.items():
        counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
        summary[key] = verdicts[0] if len(counts) == 1 else "mixed: " + ", ".join(f"{n} {v}" for v, n in counts.items())
    return summary


def findings_markdown(rows: list[dict], source: str) -> str:
    """The findings summary: each claim's verdict per dataset, then the table; the claims job writes
    it to tables/findings.md, and `gmnrep findings CLAIMS PAGE` (`make results-page`) puts it in the
    results page, docs/results.md."""
    lines = [f"Generated from `{source}` by `gmnrep findings`; the rules are in `gmnrep.paper.claims`.", ""]
    for (dataset, claim, subject), verdict in claim_verdicts(rows).items():
        lines.append(f"- {DATASET_TITLES[dataset]}, {claim} ({claim_text(claim, subject)}): **{verdict}**")
    return "\n".join(lines) + "\n\n" + claims_markdown(rows)


def write_claims(rows: list[dict], csv_path: Path, markdown_path: Path, latex_path: Path, findings_path: Path) -> None:
    """claim_rows' rows as CSV, Markdown and LaTeX, and the findings summary (findings_markdown)."""
    if not rows:
        raise DataError(f"{csv_path}: no datasets to test the claims on")
    write_texts(
        {
            Path(csv_path): to_csv(rows, COLUMNS),
            Path(markdown_path): claims_markdown(rows),
            Path(latex_path): claims_latex(rows),
            Path(findings_path): findings_markdown(rows, str(csv_path)),
        }
    )


def read_claims(path: Path) -> list[dict]:
    """A claims CSV as written by write_claims, numbers as numbers (empty cells stay "")."""
    rows = read_csv(Path(path), COLUMNS, "claims table")
    numeric = ("value", "ci_low", "ci_high", "p_value", "expected", "chance_cka", "accuracy_gap")
    try:
        for row in rows:
            for column in numeric:
                if row[column] != "":
                    row[column] = float(row[column])
            if row["claim"] == "C3" and row["value"] != "" and row["ci_low"] == "":
                row["value"] = int(row["value"])  # a count of probe samples
            row["layer"] = int(row["layer"]) if row["layer"] else ""
    except ValueError as exc:
        raise DataError(f"{path}: a number of the claims table is not a number ({exc})") from None
    return [{column: row[column] for column in COLUMNS} for row in rows]
