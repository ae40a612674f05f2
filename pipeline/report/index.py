"""``reports/index.html``: the landing page. Per intervention: its question and period (from
params), the one-line answer, the equity answer (its first words say it: narrowed, widened, no
clear change, too uncertain to tell), the confidence and the version.

The page is written to a hidden temporary sibling and renamed over the old one, and the stage's
output is ``persist: true`` in dvc.yaml so DVC does not delete it first: a failed or killed
index run leaves the previous page (docs/adr/0035).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from pipeline import atomic, config

STYLESHEET = Path(__file__).parent / "templates" / "report" / "report.css"

PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Evaluations of interventions to reduce health inequalities</title>
<style>
{css}
.question {{ display: block; margin-top: 0.3em; font-size: 0.9em; color: #425563; }}
</style>
</head>
<body>
<main class="report">
<h1>Evaluations of interventions to reduce health inequalities</h1>
<p>Each report is rebuilt from data by <code>dvc repro</code>. The version is a hash of the code,
parameters and data that made the report: the same version means the same report.</p>
<div class="table-wrap">
<table class="text">
<thead><tr><th>Intervention and question</th><th>Period</th><th>Headline finding (95% CI)</th>
<th>Did the gap narrow? (most minus least deprived)</th>
<th>Confidence</th><th>Version</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</div>
</main>
</body>
</html>
"""

ROW = (
    '<tr><td><a href="{key}/report.html">{title}</a><br><span class="question">{question}</span></td>'
    "<td>{period}</td><td>{headline}</td><td>{equity}</td><td>{confidence}</td><td><code>{version}</code></td></tr>"
)


HARM = "Warning:"  # starts each gap that moved against the most deprived (Story.equity_line)


def equity_cell(escaped: str) -> str:
    """The (escaped) equity answer, with any harm warning in bold so it cannot be missed."""
    return escaped.replace(HARM, f"<strong>{HARM}</strong>")


def write_index(root: Path | None = None) -> Path:
    """Write the index from the entries that the evaluate stages left, in params order."""
    root = root or config.project_root()
    paths = config.paths(root)
    rows = []
    for key in config.intervention_keys(root):
        atomic.recover_folder(paths.report(key))  # the page links into each folder
        entry_path = paths.index_entry(key)
        if not entry_path.exists():
            raise config.ConfigError(
                f"{entry_path}: no index entry for {key!r}. Fix: run `dvc repro` (or "
                f"`python -m pipeline evaluate {key}`) before the index."
            )
        entry = json.loads(entry_path.read_text(encoding="utf-8"))
        cells = {k: html.escape(str(v)) for k, v in entry.items()}
        cells["equity"] = equity_cell(cells.get("equity", ""))
        cfg = config.load_intervention(key, root)
        cells["question"] = html.escape(cfg.question)
        cells["period"] = f"{cfg.window.start:%b %Y} to {cfg.window.end:%b %Y}"
        rows.append(ROW.format(**cells))
    css = STYLESHEET.read_text(encoding="utf-8")
    out = paths.reports / "index.html"
    atomic.write_text(out, PAGE.format(css=css, rows="\n".join(rows)))
    return out
