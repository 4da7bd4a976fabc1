"""The report's first page: what the run was (preset, datasets, seeds, INRs, test accuracies), each
claim's verdict in one line, then per dataset the verdict table a person reads.

Written as reStructuredText that the report's landing page (workflow/report/workflow.rst) includes.
That page is a text column beside Snakemake's rule graph, so the table keeps only what a reader
needs to judge a verdict: the columns of claims.md without the dataset (a heading per dataset) and
the chance floor (it is in the "why"). Every column of every row stays in claims.csv, under the
report's Findings.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from gmnrep.core.csv_files import write_texts
from gmnrep.core.errors import DataError
from gmnrep.inr.shards import read_summary
from gmnrep.paper import claims_table
from gmnrep.paper.accuracy_table import read_accuracy_table
from gmnrep.paper.text_tables import plus_minus
from gmnrep.paper.vocabulary import ARCH_TITLES, DATASET_TITLES

VERDICT_HEADER = ["Claim", "Comparison", "Layer", "Value", "Interval / p", "Verdict", "Why"]
# Relative column widths: the "why" is the longest text, then the comparison.
VERDICT_WIDTHS = [7, 20, 7, 7, 14, 12, 33]


@dataclass(frozen=True)
class RunSettings:
    """What the configuration says of the run: its preset's name, the seeds every architecture is
    trained with, the probe samples' number (None: every test sample), the CKA estimator, and the
    standard INR set of each dataset whose INRs were imported rather than fitted."""

    preset: str
    seeds: list[int]
    probe_size: int | None
    estimator: str
    imported: dict[str, str]


def _escaped(text: str) -> str:
    """`text` as literal reStructuredText (no emphasis, links or substitutions from its characters)."""
    return re.sub(r"([\\`*_|])", r"\\\1", str(text))


def _verdict(verdict: str) -> str:
    """A verdict in the role whose class colours it (`verdict-holds`, ...; roles declared in ROLES)."""
    return f":verdict-{verdict.split(':')[0].replace(' ', '-')}:`{_escaped(verdict)}`"


ROLES = "".join(
    f".. role:: verdict-{name.replace(' ', '-')}\n" for name in (*claims_table.VERDICTS, claims_table.CONTEXT, "mixed")
)


def list_table(header: list[str], body: list[list[str]], widths: list[int], css_class: str) -> str:
    """A docutils list-table of cells already in reStructuredText."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {' '.join(map(str, widths))}"]
    lines += [f"   :class: {css_class}", ""]
    for row in [[_escaped(h) for h in header], *body]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return "\n".join(lines) + "\n"


def _seeds(seeds: list[int]) -> str:
    consecutive = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    listed = f"{seeds[0]}-{seeds[-1]}" if consecutive and len(seeds) > 2 else ", ".join(map(str, seeds))
    return f"{len(seeds)} ({listed})"


def _inrs(dataset: str, summary: dict[str, dict], imported: str | None) -> str:
    splits = ", ".join(f"{summary[s]['inrs']:,} {s}" for s in ("train", "val", "test") if s in summary)
    origin = f" (imported from the standard set ``{imported}``)" if imported else ""
    return f"{DATASET_TITLES[dataset]}{origin}: {splits}; median PSNR {summary['all']['psnr_median']:.1f} dB"


def _probes(dataset: str, summary: dict[str, dict], probe_size: int | None) -> str:
    """How many test samples are probed: every one, or `probe_size` of them (a seeded draw)."""
    tests = summary.get("test", {"inrs": 0})["inrs"]
    return f"{DATASET_TITLES[dataset]}: {tests if probe_size is None else min(probe_size, tests):,}"


def run_lines(settings: RunSettings, inr_summaries: dict[str, dict], accuracy: list[dict]) -> str:
    """What was run, as a field list: preset, seeds, INRs and probe samples, then Table 1 compactly."""
    datasets = [d for d in DATASET_TITLES if d in inr_summaries]
    probes = "; ".join(_probes(d, inr_summaries[d], settings.probe_size) for d in datasets)
    inrs = ". ".join(_inrs(d, inr_summaries[d], settings.imported.get(d)) for d in datasets)
    fields = [
        f":Preset: ``{settings.preset}``",  # inline literal: no escapes (they would show)
        f":Seeds: {_seeds(settings.seeds)} per architecture",
        f":INRs: one SIREN per image; {inrs}",
        f":Probe samples: {probes} test images; CKA estimator ``{settings.estimator}``",
    ]
    archs = [a for a in ARCH_TITLES if any(r["architecture"] == a for r in accuracy)]
    cells = {(r["dataset"], r["architecture"]): r for r in accuracy}
    body = [
        [DATASET_TITLES[d]]
        + [
            plus_minus(cells[d, a]["test_acc_mean"], cells[d, a]["test_acc_std"], 1, latex=False)
            if (d, a) in cells
            else ""
            for a in archs
        ]
        for d in datasets
    ]
    header = ["Test accuracy (%)", *(ARCH_TITLES[a] for a in archs)]
    table = list_table(header, [[_escaped(c) for c in row] for row in body], [4] + [3] * len(archs), "run-accuracy")
    return "\n".join(fields) + "\n\n" + table


def verdict_lines(rows: list[dict]) -> str:
    """One bullet per dataset, claim and weight-space architecture: the claim, then its verdict over its rows."""
    lines = []
    for (dataset, claim, subject), verdict in claims_table.claim_verdicts(rows).items():
        what = claims_table.CLAIMS[claim].split(":")[0]
        where = f"{DATASET_TITLES[dataset]}, {claim}, {ARCH_TITLES[subject]}"
        lines.append(f"- **{where}** ({_escaped(what)}): {_verdict(verdict)}")
    return "\n".join(lines) + "\n"


def verdict_table(rows: list[dict]) -> str:
    """One dataset's claims rows: the columns a person reads (claims.md's, less dataset and chance)."""
    body = []
    for row in rows:
        cells = claims_table.claim_cells(row)
        body.append(
            [
                cells["claim"],
                _escaped(cells["comparison"]),
                cells["layer"],
                cells["value"],
                _escaped(cells["interval"]),
                _verdict(row["verdict"]),
                _escaped(row["reason"]),
            ]
        )
    return list_table(VERDICT_HEADER, body, VERDICT_WIDTHS, "verdict-table")


def overview_text(
    settings: RunSettings, inr_summaries: dict[str, dict], accuracy: list[dict], claim_rows: list[dict]
) -> str:
    """The landing page's reStructuredText (a fragment: no title; the page gives the sections' level)."""
    datasets = [d for d in DATASET_TITLES if any(r["dataset"] == d for r in claim_rows)]
    parts = [
        ROLES,
        run_lines(settings, inr_summaries, accuracy),
        "**Verdicts** (the rules: the caption of claims.csv under Findings)\n",
        verdict_lines(claim_rows),
    ]
    for dataset in datasets:
        title = f"Verdict table: {DATASET_TITLES[dataset]}"
        parts += [f"{title}\n{'-' * len(title)}\n", verdict_table([r for r in claim_rows if r["dataset"] == dataset])]
    parts.append(
        "Every column of these rows (statistic, chance CKA, accuracy gap, sample sizes) is in "
        "``claims.csv`` under Findings; the figures and tables behind them are listed below.\n"
    )
    return "\n".join(parts)


def write_overview(
    settings: RunSettings, inr_summary_paths: dict[str, Path], accuracy_path: Path, claims_path: Path, output: Path
) -> None:
    inr_summaries = {dataset: read_summary(path) for dataset, path in inr_summary_paths.items()}
    missing = [d for d, summary in inr_summaries.items() if "all" not in summary]
    if missing:
        raise DataError(f"{inr_summary_paths[missing[0]]}: the INR summary has no 'all' row")
    text = overview_text(
        settings, inr_summaries, read_accuracy_table(accuracy_path), claims_table.read_claims(claims_path)
    )
    write_texts({Path(output): text})
