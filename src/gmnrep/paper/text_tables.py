"""Tables as text: Markdown for the docs and the report, LaTeX (booktabs) for a paper."""


def plus_minus(mean: float, std: float, digits: int, latex: bool) -> str:
    if latex:
        return f"${mean:.{digits}f} \\pm {std:.{digits}f}$"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def latex_table(alignment: str, header: list[str], body: list[list[str]]) -> str:
    lines = [f"\\begin{{tabular}}{{{alignment}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(cells) + r" \\" for cells in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
