"""Domain errors: every user-facing failure is a MapperError with a readable message.

Front ends (the CLI, the web app) translate these once, in one place; nothing else
should ever reach a user as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

#: how many problems a message lists before summarising the rest
MAX_LISTED = 40


class MapperError(Exception):
    """An error the user can act on; its message is shown as it is."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    Parameters
    ----------
    file : name of the file (no directories, so messages never leak machine paths)
    message : what is wrong and what was expected
    row : for CSV, the row number a spreadsheet shows (the header is row 1); for
        vector files, the 1-based feature number (``row_label="feature"``)
    column : the column concerned, if it applies
    value : the value seen, if it applies
    severity : "error" stops the import; "warning" is reported and the import goes on
    """

    file: str
    message: str
    row: int | None = None
    column: str | None = None
    value: object = None
    severity: str = "error"
    row_label: str = "row"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.row_label} {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = " ".join(where) + ": "
        if self.value is not None:
            text += f"{_short(self.value)!r}: "
        return text + self.message


def _short(value: object, limit: int = 60) -> object:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_problems(problems: list[Problem], *, limit: int = MAX_LISTED) -> str:
    """Render problems one per line, summarising beyond `limit`.

    Many rows with the same problem (same file, column and message) are shown once, with
    their count and the first row numbers, so the other kinds of problem stay visible.
    """
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.file, p.column, p.message, p.row_label), []).append(p)
    lines = []
    for (file, column, message, label), members in groups.items():
        if len(members) <= 3:
            lines += [f"  - {p}" for p in members]
            continue
        rows = [str(p.row) for p in members if p.row is not None][:8]
        more = len(members) - len(rows)
        where = f"{label}s {', '.join(rows)}" + (f" and {more:,} more" if more > 0 else "")
        col = f" column '{column}'" if column else ""
        lines.append(f"  - {file}{col}: {len(members):,} {label}s: {message} ({where})")
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"  ... and {len(lines) - limit} more problems")
    return "\n".join(shown)


class DataValidationError(MapperError, ValueError):
    """An input file (or a set of files) failed validation; carries every problem found."""

    def __init__(self, problems: list[Problem], *, summary: str | None = None):
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        files = sorted({p.file for p in self.problems})
        head = summary or (
            f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''} "
            f"in {', '.join(files)}; nothing was imported"
        )
        super().__init__(head + ":\n" + format_problems(self.problems))
