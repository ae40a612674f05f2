"""The report is a set of views of one evaluation result (issue 14, docs/adr/0140).

* No module of ``pipeline/report/`` fits a model or reads a data file. Read from the source
  (AST), imports inside functions included:
  - from ``pipeline.stats`` a report module may import classes and constants (result types such
    as ``ITSResult``, ``SPCResult``; ``CHART_NAMES``), never a statistics module itself nor a
    function, except the functions in ``RESTATED_FROM_PUBLISHED_COUNTS``: these recompute an
    estimate from the *published* (rounded, suppressed) counts so that nothing printed gives
    back an exact count (docs/adr/0022). That is a disclosure step of publishing, not a fit of
    the evaluation; each is named with its module so a new one fails this test;
    ``format_value`` is the SPC chart's number format (text);
  - ``statsmodels`` never; ``scipy`` only ``norm`` in ``equity_answer`` (a normal quantile for
    the minimum detectable change of an interval already fitted, Bloom 1995; docs/adr/0121);
  - from ``pipeline.evaluation`` nothing that reads files or fits (``run``, ``load_inputs``,
    ``fit_outcome``...): the notebook calls those, then hands the result to the views;
  - no call that reads a table (``read_parquet``, ``read_csv``, DuckDB, pyarrow) anywhere, and
    file reads (``read_text``, ``open``, ``json.load``) only in the publishing modules that read
    the report's own files: its version history (``history.json``), the index entries and
    stylesheet, the notebook templates, and the hashes of inputs in the manifest.
* Text functions return strings and never display (no IPython import in them).
* The methods text is written from the result: change a setting in params (through a modified
  ``cfg``), fit for real on the simulated data, and the text follows.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

from pipeline import evaluation
from pipeline.report import methods_text, summary_text
from pipeline.report.story import Story

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "pipeline" / "report"

RESTATED_FROM_PUBLISHED_COUNTS = {
    # before/after proportions, difference and test recomputed from the published counts
    ("publish", "pipeline.stats.before_after", "compare_proportions"),
    # equity gaps and the monthly slope index of inequality from the published counts
    ("equity_tables", "pipeline.stats.equity", "gap_rows"),
    ("equity_tables", "pipeline.stats.equity", "monthly_sii"),
}
ALLOWED_SCIPY = {("equity_answer", "scipy.stats", "norm")}
# number formats shared by a chart and its sentences: text, not statistics
FORMATTING = {("spc_figure", "pipeline.stats.spc_summary", "format_value")}
EVALUATION_STEPS = {"run", "evaluate", "load_inputs", "load_series", "fit_outcome",
                    "fit_ols_newey_west", "other_models", "staggered_effects", "design_power",
                    "equity_analysis", "control_chart", "group_table", "confidence_evidence",
                    "robustness", "decisions"}
TABLE_READERS = {"read_parquet", "read_csv", "read_json", "read_excel", "read_feather",
                 "read_sql", "read_table", "connect"}
FILE_READS = {"read_text", "read_bytes", "open", "load", "loads"}
PUBLISHING = {"history", "index", "render", "build", "manifest"}  # read the report's own files
TEXT_MODULES = ("summary_text", "methods_text", "tables")


def problems(name: str, source: str) -> list[str]:
    """What in report module ``name`` (its source) fits a model or reads a data file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("statsmodels", "scipy", "duckdb", "pyarrow") \
                        or alias.name.startswith("pipeline.stats"):
                    found.append(f"{name}:{node.lineno} imports module {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found += _from_import(name, node.module, alias.name, node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if called in TABLE_READERS and owner != "self":
                found.append(f"{name}:{node.lineno} reads a table: {ast.unparse(func)}")
            if called in FILE_READS and name not in PUBLISHING and (
                    called in ("read_text", "read_bytes", "open") or owner == "json"):
                found.append(f"{name}:{node.lineno} reads a file: {ast.unparse(func)}")
            if owner in ("evaluation", "pipeline.evaluation") and called in EVALUATION_STEPS:
                found.append(f"{name}:{node.lineno} runs the evaluation: {ast.unparse(func)}")
    return found


def _from_import(name: str, module: str, imported: str, line: int) -> list[str]:
    where = f"{name}:{line}"
    if module.split(".")[0] in ("statsmodels", "duckdb", "pyarrow"):
        return [f"{where} imports {module}.{imported}"]
    if module.split(".")[0] == "scipy":
        return [] if (name, module, imported) in ALLOWED_SCIPY else [
            f"{where} imports {module}.{imported}"]
    if module.startswith("pipeline.evaluation") and imported in EVALUATION_STEPS:
        return [f"{where} imports the evaluation step {imported}"]
    if module.startswith("pipeline.stats") or (module == "pipeline" and imported == "stats"):
        if (name, module, imported) in RESTATED_FROM_PUBLISHED_COUNTS | FORMATTING:
            return []
        try:
            obj = getattr(importlib.import_module(module), imported)
        except AttributeError:
            return [f"{where} imports the statistics module {module}.{imported}"]
        if inspect.ismodule(obj) or (callable(obj) and not inspect.isclass(obj)):
            return [f"{where} imports {module}.{imported}, a statistics function or module"]
    return []


def report_modules() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(REPORT.glob("*.py"))}


def test_the_checker_finds_a_fit_and_a_read_in_a_planted_view():
    planted = ("from pipeline.stats import spc\n"
               "from pipeline.stats.multiplicity import adjust\n"
               "from pipeline.evaluation import run\n"
               "import pandas as pd\n"
               "def view(path):\n"
               "    from pipeline.stats.its import fit_its\n"
               "    series = pd.read_parquet(path)\n"
               "    quality = json.loads(open(path).read())\n"
               "    return spc.spc_chart(series)\n")
    found = " ".join(problems("planted", planted))
    for what in ("pipeline.stats.spc", "multiplicity.adjust", "evaluation step run",
                 "its.fit_its", "pd.read_parquet", "json.loads", "reads a file: open"):
        assert what in found, what
    # result types and constants are fine: a view reads them
    assert problems("planted", "from pipeline.stats.spc import SPCResult, CHART_NAMES\n") == []


def test_no_report_module_fits_a_model_or_reads_a_data_file():
    found = [p for name, source in report_modules().items() for p in problems(name, source)]
    assert found == []


def test_text_functions_return_strings_and_never_display():
    for name in TEXT_MODULES:
        tree = ast.parse((REPORT / f"{name}.py").read_text(encoding="utf-8"))
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                     for a in n.names}
        assert not any(m.startswith("IPython") for m in imported), name
        assert "display(" not in (REPORT / f"{name}.py").read_text(encoding="utf-8"), name


def test_the_views_are_small_modules():
    for name in ("story", "tables", "summary_text", "methods_text", "sections",
                 "equity_view", "other_models_section", "staggered_section"):
        lines = (REPORT / f"{name}.py").read_text(encoding="utf-8").count("\n")
        assert lines < 400, (name, lines)
    for path in (ROOT / "pipeline" / "evaluation").glob("*.py"):
        assert path.read_text(encoding="utf-8").count("\n") < 400, path.name


# -- the methods text follows the settings: real fits on the simulated data ---------------------

@pytest.fixture(scope="module")
def thi(prepared_project):
    """thi_month's inputs, with the equity dimensions and robustness variants trimmed so that
    each setting below costs one fit of each model, not the whole report."""
    inputs = evaluation.load_inputs("thi_month", prepared_project)
    cfg = dataclasses.replace(inputs.cfg, equity=("imd_quintile",), plus_groups=(),
                              target_group=None, intersections=(),
                              sensitivity={"enabled": False})
    return inputs, cfg


def _methods(inputs, cfg) -> tuple[evaluation.Evaluation, str]:
    ev = evaluation.run(cfg, inputs.series, inputs.quality, inputs.rule)
    story = Story(cfg=cfg, rule=inputs.rule, ev=ev, manifest={}, quality=inputs.quality,
                  history=[])
    return ev, methods_text.methods(story)


@pytest.mark.slow  # a whole evaluation (trimmed) per setting: about 20 s each
@pytest.mark.parametrize("change, says, never", [
    ({"its": {"errors": "auto"}}, ["params ask `auto`; used AR(1) working correlation by REML",
                                   "chosen by simulation", "`errors: ar` (params: `auto`)"],
     ["Newey-West standard errors (", "independent months"]),
    ({"its": {"errors": "independent"}}, ["params ask `independent`; used independent months.",
                                          "`errors: independent`", "treat months as independent"],
     ["chosen by simulation", "AR(1)"]),
    ({"its": {"errors": "hac", "hac_lags": 2}},
     ["params ask `hac`; used Newey-West standard errors (2 lags).", "`errors: hac`"],
     ["chosen by simulation", "AR(1)"]),
    ({"washout": 1},
     ["`washout_months: 1`", "washout_months: 1`; used", "end of a 1-month washout"],
     ["(no washout)"]),
])
def test_methods_text_follows_a_changed_setting(thi, change, says, never):
    inputs, cfg = thi
    if "its" in change:
        cfg = dataclasses.replace(cfg, its={**cfg.its, **change["its"]})
    if "washout" in change:
        months = change["washout"]
        cfg = dataclasses.replace(
            cfg, before_after=dataclasses.replace(cfg.before_after, washout_months=months))
    ev, text = _methods(inputs, cfg)
    spec = ev.its[cfg.headline.key].spec
    for words in says:
        assert words in text, (words, text)
    for words in never:
        assert words not in text, (words, text)
    assert f"`family: {spec.family}`" in text
    assert ev.decision("error structure").chosen in text


@pytest.mark.slow
def test_the_family_in_the_methods_text_is_the_fitted_one(thi):
    inputs, cfg = thi
    outcome = dataclasses.replace(cfg.headline, family="quasipoisson")
    cfg = dataclasses.replace(cfg, outcomes=tuple(outcome if o.key == outcome.key else o
                                                  for o in cfg.outcomes))
    ev, text = _methods(inputs, cfg)
    assert ev.its[outcome.key].spec.family == "quasipoisson"
    assert "`family: quasipoisson`" in text and "params ask `quasipoisson`" in text
    assert "`family: quasibinomial`" not in text
    assert "rate ratio" in summary_text.summary_line(Story(
        cfg=cfg, rule=inputs.rule, ev=ev, manifest={}, quality={}, history=[]))
