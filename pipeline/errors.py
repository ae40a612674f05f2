"""The one base class of errors meant for a person: no command shows them with a traceback.

Subclasses live where their checks do: ``pipeline.config.ConfigError`` (params.yaml),
``pipeline.data.errors.ExtractError`` (an extract), ``pipeline.preflight.DesignError`` (params
that the data cannot support), ``pipeline.report.build.DisclosureViolation`` (a report that
would break the publication rule). Each message names the file, the key or column, the rows,
and the fix.

Why ``_render_traceback_``: IPython (and so Jupyter and papermill's kernel) shows an exception
that defines it with the lines it returns instead of a traceback, so the evaluation notebook
prints the one-paragraph message with no change to the notebook (docs/adr/0043). The CLI reads
the same marker back from a failed notebook run (:func:`message_from_notebook_error`).
"""

from __future__ import annotations

#: How a pipeline error is shown in a notebook; the CLI recognises a failed cell by it.
MARK = "error: "
#: At most this many characters of a bad value are quoted in a message.
EXCERPT = 40


class PipelineError(Exception):
    """A problem with the user's input or the published output, explained in the message."""

    def _render_traceback_(self) -> list[str]:
        return [f"{MARK}{self}"]


def excerpt(value, limit: int = EXCERPT) -> str:
    """``value`` as text, cut to ``limit`` characters with its full length said, so a message
    never prints a 1.5 MB cell (or a whole line of a broken file)."""
    text = str(value)
    flat = text.replace("\r", " ").replace("\n", " ")
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}... ({len(text):,} characters)"


def message_from_notebook_error(ename: str, traceback: list[str] | None) -> str | None:
    """The pipeline error's message if a notebook cell failed with one, else ``None``."""
    lines = traceback or []
    if len(lines) == 1 and lines[0].startswith(MARK):
        return lines[0][len(MARK):]
    return None
