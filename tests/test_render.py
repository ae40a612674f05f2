"""Executed notebooks are normalised and rendered to self-contained HTML (docs/design.md section 3, 9)."""

from __future__ import annotations

import re

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from pipeline.report import render

from .conftest import ROOT

EXTERNAL = re.compile(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", re.I)


def executed_like_papermill() -> nbformat.NotebookNode:
    cell = new_code_cell("x = 1", execution_count=3,
                         outputs=[new_output("execute_result", {"text/plain": "1"},
                                             execution_count=3)])
    cell.metadata["execution"] = {"iopub.status.busy": "2026-11-23T10:00:00.000Z"}
    cell.metadata["papermill"] = {"duration": 0.5, "start_time": "2026-11-23T10:00:00"}
    cell["id"] = "random-3f9a"
    nb = new_notebook(cells=[cell])
    nb.metadata["papermill"] = {"start_time": "2026-11-23T10:00:00", "duration": 4.2}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    return nb


def test_normalise_strips_everything_that_varies_between_runs():
    nb = render.normalise(executed_like_papermill())
    text = nbformat.writes(nb)
    for volatile in ("2026-11-23", "duration", "random-3f9a", "3.11.7", '"execution_count": 3'):
        assert volatile not in text, volatile
    assert nb.cells[0]["id"] == "cell-000"
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "1", "outputs themselves stay"


def test_html_folds_code_and_loads_nothing_from_the_internet():
    nb = render.normalise(executed_like_papermill())
    html = render.to_html(nb, "A title")
    assert "<title>A title</title>" in html
    folded = re.search(r'<details class="code"><summary>Show code</summary>(.*?)</details>',
                       html, re.S)
    assert folded and "x" in folded.group(1), "code must sit in a folded <details> block"
    assert not EXTERNAL.search(html)
    assert re.findall(r"<script[^>]*>", html) == ["<script>"], "only our inline script"


def test_table_of_contents_links_every_section():
    page = ('<h1 id="T">T</h1><h2 id="A">A<a class="anchor-link" href="#A">¶</a></h2>'
            '<h3 id="A1">A one</h3><h2 id="B">B</h2>')
    toc = render.table_of_contents(page)
    assert toc.count("<a href=") == 3
    assert '<li><a href="#A">A</a><ol><li><a href="#A1">A one</a></li></ol></li>' in toc


def test_the_notebook_template_is_output_free():
    """Saving the template with outputs would change its hash and rerun every evaluate stage."""
    nb = nbformat.read(ROOT / "notebooks" / "evaluate.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "intervention =" in tagged[0].source and "output_dir = None" in tagged[0].source


def test_committed_reports_are_self_contained():
    pages = sorted((ROOT / "reports").rglob("*.html"))
    assert len(pages) >= 4, "expected three reports and the index: run `make repro`"
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(html), page


def test_contents_follow_the_summary_so_the_answer_is_on_the_first_screen():
    """The commissioner's question and answer come before the contents box (issue 11)."""
    page = ('<h1 id="T">T</h1><div class="cell a"><h2 id="S">Summary</h2></div>'
            '<div class="cell b"><p>Answer</p></div><div class="cell c"><h2 id="D">Data</h2></div>')
    placed = render.place_contents(page, "<nav>TOC</nav>")
    assert placed.index("Answer") < placed.index("<nav>TOC</nav>") < placed.index('id="D"')
    one = render.place_contents('<h1 id="T">T</h1><h2 id="S">S</h2>', "<nav>TOC</nav>")
    assert one.index("</h1>") < one.index("<nav>")


def test_code_toggles_of_the_title_and_summary_come_after_the_key_messages():
    """No "Show code" between the title and the summary's key messages (issue 11): the
    toggles of the first cells move down to just before the contents; later ones stay put."""
    code = '<details class="code"><summary>Show code</summary><pre>{}</pre></details>'
    page = ('<div class="cell a">' + code.format("header()") + '<h1 id="T">T</h1></div>'
            '<div class="cell b"><h2 id="S">Summary</h2></div>'
            '<div class="cell c">' + code.format("summary()") + '<ul><li>Answer</li></ul></div>'
            '<div class="cell d"><h2 id="D">Data</h2>' + code.format("data()") + '</div>')
    placed = render.place_contents(page, "<nav>TOC</nav>")
    first = placed.index("Show code")
    assert placed.index("</h1>") < placed.index("Answer") < first < placed.index("<nav>TOC")
    assert placed.count("Show code") == 3 and "header()" in placed and "summary()" in placed
    assert placed.index('id="D"') < placed.index("data()")
