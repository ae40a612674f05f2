"""Run the evaluation notebook with papermill and render it to a self-contained HTML page.

Reruns must give byte-identical files (docs/design.md sections 3 and 9): papermill and nbclient write
timestamps and durations, the injected-parameters cell gets a random id, and the kernel's
language metadata carries the Python patch version. :func:`normalise` removes or fixes each of
these before anything is written, so the executed ``report.ipynb`` and ``report.html`` depend
only on code, params and data.
"""

from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import nbformat

from pipeline.report.glossary import link_first_uses

TEMPLATES = Path(__file__).parent / "templates"
KERNEL = "python3"  # the venv's own ipykernel; never an installed kernelspec with absolute paths

_VOLATILE_NOTEBOOK_METADATA = ("papermill", "widgets")
_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")


def execute(template: Path, parameters: dict, cwd: Path) -> nbformat.NotebookNode:
    """Execute ``template`` with ``parameters`` in ``cwd`` and return the normalised notebook.

    Papermill injects the parameters into a cell after the one tagged ``parameters``; the
    notebook itself validates them through :mod:`pipeline.config`.
    """
    import papermill  # imported here: the index and other light commands never need it

    executed = papermill.execute_notebook(
        str(template),
        None,  # keep it in memory: written once, normalised, by the caller
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=str(cwd),
        progress_bar=False,
        log_output=False,
        report_mode=False,
    )
    return normalise(executed)


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what varies between identical runs: timings, random ids, interpreter versions."""
    nb = copy.deepcopy(nb)
    for key in _VOLATILE_NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata.get("language_info", {}).pop("version", None)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.execution_count = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
                output.get("metadata", {}).pop("execution", None)
    return nb


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


_HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)(?:<a class="anchor-link"[^>]*>.*?</a>)?</h\1>',
                      re.S)


def table_of_contents(page: str) -> str:
    """A nested list of links to the page's level-2 and level-3 headings, in order."""
    sections: list[tuple[str, list[str]]] = []
    for level, anchor, text in _HEADING.findall(page):
        label = html.escape(re.sub(r"<[^>]+>", "", text).strip())
        link = f'<a href="#{anchor}">{label}</a>'
        if level == "2" or not sections:
            sections.append((link, []))
        else:
            sections[-1][1].append(link)
    items = "".join(
        f"<li>{link}" + (f"<ol>{''.join(f'<li>{s}</li>' for s in subs)}</ol>" if subs else "")
        + "</li>"
        for link, subs in sections
    )
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>'


def to_html(nb: nbformat.NotebookNode, title: str) -> str:
    """Render to one self-contained page: code folded, images embedded, a table of contents.

    Nothing is loaded from the internet; the only script is ours, inline (sortable tables).
    """
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="report",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    static = TEMPLATES / "report"
    resources = {"report_css": (static / "report.css").read_text(encoding="utf-8"),
                 "report_js": (static / "report.js").read_text(encoding="utf-8")}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return place_contents(link_first_uses(page), table_of_contents(page))


_CODE_TOGGLE = re.compile(r'<details class="code">.*?</details>', re.S)


def place_contents(page: str, toc: str) -> str:
    """Put the contents after the first section (the summary), so the question and the answer
    are on the first screen; before the first section's end when there is only one.

    The code toggles of the cells up to there (the title cell and the summary's cells) move
    down with it, just before the contents: otherwise the title cell's toggle sits between the
    title and the summary at every width (the stylesheet puts a toggle after its cell's output,
    and the title is that output), and nothing should come between the title and the key
    messages (issue 11)."""
    starts = [m.start() for m in re.finditer(r"<h2 id=", page)]
    if len(starts) >= 2:
        cut = page.rfind('<div class="cell ', 0, starts[1])
        if cut > starts[0]:
            head = page[:cut]
            toggles = "\n".join(_CODE_TOGGLE.findall(head))
            moved = (f'<div class="code-moved">{toggles}</div>\n' if toggles else "")
            return _CODE_TOGGLE.sub("", head) + moved + toc + "\n" + page[cut:]
    first_h1_end = page.find("</h1>")
    if first_h1_end >= 0:
        cut = first_h1_end + len("</h1>")
        return page[:cut] + "\n" + toc + page[cut:]
    return page.replace("<main class=\"report\">", "<main class=\"report\">\n" + toc, 1)
