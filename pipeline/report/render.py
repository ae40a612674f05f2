"""Run the evaluation notebook with papermill and render it to a self-contained HTML page.

Reruns must give byte-identical files (DESIGN.md sections 3 and 9): papermill and nbclient write
timestamps and durations, the injected-parameters cell gets a random id, and the kernel's
language metadata carries the Python patch version. :func:`normalise` removes or fixes each of
these before anything is written, so the executed ``report.ipynb`` and ``report.html`` depend
only on code, params and data.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter

TEMPLATES = Path(__file__).parent / "templates"
KERNEL = "python3"  # the venv's own ipykernel; never an installed kernelspec with absolute paths

_VOLATILE_NOTEBOOK_METADATA = ("papermill", "widgets")
_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")


def execute(template: Path, parameters: dict, cwd: Path) -> nbformat.NotebookNode:
    """Execute ``template`` with ``parameters`` in ``cwd`` and return the normalised notebook.

    Papermill injects the parameters into a cell after the one tagged ``parameters``; the
    notebook itself validates them through :mod:`pipeline.config`.
    """
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


def to_html(nb: nbformat.NotebookNode, title: str) -> str:
    """Render with code hidden and every image embedded; nothing is loaded from the internet."""
    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="report",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    css = (TEMPLATES / "report" / "report.css").read_text(encoding="utf-8")
    body, _ = exporter.from_notebook_node(nb, resources={"report_css": css})
    return body
