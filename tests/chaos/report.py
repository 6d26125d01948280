"""The table of an experiment's figures: in the terminal (rich) and in docs (Markdown)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from tests.chaos.counts import MUST_BE_ZERO, Figures

COLUMNS: tuple[tuple[str, str], ...] = (
    ("experiment", "experiment"),
    ("sent", "SOS sent"),
    ("acked", "acked"),
    ("recorded", "recorded"),
    ("judged", "judged"),
    ("incidents", "incidents"),
    ("lost", "LOST"),
    ("doubled", "DOUBLED"),
    ("never_judged", "NEVER JUDGED"),
    ("unacked", "unacked"),
    ("readings_pubacked", "readings PUBACKed"),
    ("readings_unrecorded", "readings unrecorded"),
    ("crashes", "crashes"),
    ("escalations", "escalations"),
    ("escalations_overdue", "escalations overdue"),
    ("escalations_doubled", "escalations doubled"),
    ("max_sends", "max sends"),
    ("ack_p50_s", "ack p50 s"),
    ("ack_max_s", "ack max s"),
    ("judge_p50_s", "judged p50 s"),
    ("judge_max_s", "judged max s"),
)


def _cell(figures: Figures, name: str) -> str:
    value = getattr(figures, name)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def verdict(figures: Figures) -> str:
    """PASS, or FAIL with the figures that are not zero."""
    failures = figures.failures
    return "PASS" if not failures else "FAIL " + ", ".join(f"{k}={v}" for k, v in failures.items())


def table(rows: Sequence[Figures], title: str = "chaos") -> Table:
    """A rich table, one row per experiment, the must-be-zero figures in red when they are not."""
    out = Table(title=title)
    for _name, header in COLUMNS:
        out.add_column(header, justify="left" if _name == "experiment" else "right", no_wrap=True)
    out.add_column("verdict", no_wrap=True)
    for figures in rows:
        cells = []
        for name, _header in COLUMNS:
            text = _cell(figures, name)
            if name in MUST_BE_ZERO and getattr(figures, name):
                text = f"[bold red]{text}[/bold red]"
            cells.append(text)
        cells.append(verdict(figures))
        out.add_row(*cells)
    return out


def render(rows: Sequence[Figures], title: str = "chaos") -> str:
    """The table as plain text (for an assertion's message or a log)."""
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(table(rows, title))
    console.print(notes(rows))
    return console.file.getvalue()  # type: ignore[attr-defined]


def notes(rows: Sequence[Figures]) -> str:
    """One line of extra figures per experiment."""
    return "\n".join(
        f"{f.experiment}: " + ", ".join(f"{k}={v}" for k, v in sorted(f.notes.items()))
        for f in rows
    )


def markdown(rows: Sequence[Figures]) -> str:
    """The table in Markdown, for docs/reliability.md."""
    headers = [header for _name, header in COLUMNS] + ["verdict"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for figures in rows:
        cells = [_cell(figures, name) for name, _header in COLUMNS] + [verdict(figures)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
