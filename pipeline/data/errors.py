"""Errors raised when an extract cannot be used.

Why a list of problems rather than the first failure: an evaluator fixing an extract in a
spreadsheet should see every problem of the file in one run, each naming the file, the
column, the (1-based) data rows and the fix (docs/design.md section 6).
"""
from __future__ import annotations

from pipeline.errors import PipelineError

from dataclasses import dataclass

#: How many offending row numbers a problem lists before summarising with a count.
MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One problem found in an extract.

    ``rows`` are the first few 1-based *data* rows (the header is not counted, so in a
    spreadsheet the row is ``row + 1``); ``count`` is how many rows have the problem in total
    (0 for file-level problems such as a missing column).
    """

    file: str
    column: str | None
    rows: tuple[int, ...]
    count: int
    message: str
    fix: str

    def __str__(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = ", ..." if self.count > len(self.rows) else ""
            noun = "row" if self.count == 1 else "rows"
            where.append(f"{noun} {shown}{more} ({self.count} {noun})")
        place = f"{self.file}: {', '.join(where)}" if where else self.file
        return f"{place}: {self.message}. Fix: {self.fix}"


class ExtractError(PipelineError):
    """An extract failed validation; ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.problems)
        files = sorted({p.file for p in self.problems})
        head = f"{n} problem{'s' if n != 1 else ''} in {', '.join(files)}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
