"""Command line: ``python -m pipeline <command>``, the thin layer the DVC stages call.

Each command reads params through :mod:`pipeline.config` and calls one function elsewhere.
Errors meant for a person (bad params, bad extracts, a design the data cannot support) are
printed without a traceback and exit with status 2; nothing already written is changed when a
command fails. ``validate``, ``prepare`` and ``evaluate`` run the same checks of params against
the data (:mod:`pipeline.preflight`), so what ``validate`` passes runs to a report. Anything
unexpected (a bug, not the input) exits with status 3 and one paragraph saying where the full
traceback was saved (docs/adr/0043).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

from pipeline import config
from pipeline.errors import PipelineError, excerpt, message_from_notebook_error


def _simulate(args) -> None:
    from pipeline.data.simulate import simulate

    root = config.project_root()
    seed = config.load_seed(root)
    for key in args.keys or config.simulated_keys(root):
        cfg = config.load_intervention(key, root)
        spec = cfg.its_spec(cfg.outcomes[0])
        try:
            simulate(
                key,
                config.paths(root).synthetic(key),
                seed=seed,
                window=(f"{cfg.window.start:%Y-%m}", f"{cfg.window.end:%Y-%m}"),
                phases=spec["phases"],
                unit_starts=spec["unit_starts"],
                comparator_units=spec["comparator_units"],
                outcomes={**cfg.outcome_columns(), **cfg.outcome_columns("staff")},
            )
        except (KeyError, ValueError) as exc:  # no scenario for the key, or too short a window
            raise config.ConfigError(f"simulate {key}: {exc}") from None
        print(f"simulate: wrote {config.paths(root).synthetic(key).relative_to(root)}")


def _extract_arguments(cfg: config.Intervention) -> dict:
    from pipeline.data.options import options_for

    return {
        "outcomes": cfg.outcome_columns(),
        "dimensions": [*cfg.equity, *cfg.plus_groups],
        "window": (f"{cfg.window.start:%Y-%m}", f"{cfg.window.end:%Y-%m}"),
        "options": options_for(cfg),  # the `data:` section: format, columns, quirks
        "keep_units": [*(cfg.unit_starts or {}), *(cfg.comparator_units or ())],
        "staff": ((cfg.staff_extract, {**cfg.outcome_columns("staff"),
                                       **{k: (k, None) for k in cfg.staff_process}})
                  if cfg.staff_extract is not None else None),
        "crossed": list(cfg.crossed),
        "populations": {o.key: o.population_table for o in cfg.outcomes
                        if o.population_table is not None},
        "period": cfg.period,
    }


def _input(cfg: config.Intervention, root=None):
    """The extract file, or the database table of ``source:`` (docs/databases.md)."""
    if cfg.source is None:
        return cfg.extract
    from pipeline.data.engines import resolve

    return resolve(cfg.source, root or config.project_root())


def _fingerprint(args) -> None:
    """Write the source table's fingerprint where ``extract:`` points (the DVC dependency)."""
    import json

    from pipeline.data.engines import connect, fingerprint, open_table
    from pipeline.data.options import options_for
    from pipeline.atomic import replace_files

    cfg = config.load_intervention(args.key)
    if cfg.source is None:
        raise config.ConfigError(f"fingerprint {args.key}: the intervention reads a file "
                                 "(extract:), not a database table (source:); DVC tracks the "
                                 "file itself. Fix: nothing to do.")
    src = _input(cfg)
    extract_args = _extract_arguments(cfg)
    engine = connect(src)
    try:
        source = open_table(engine, src)
        flags = sorted({c for pair in extract_args["outcomes"].values() for c in pair if c})
        opts = options_for(cfg)
        query = {"table": src.table, **{k: extract_args[k] for k in ("outcomes", "dimensions",
                                                                      "window", "crossed")},
                 "data": cfg.raw.get("data", {})}
        found = fingerprint(engine, source, opts.file_column("month"),
                            [opts.file_column(f) for f in flags], query)
    finally:
        engine.close()
    out = cfg.extract
    replace_files(out.parent, {out.name: lambda p: p.write_text(
        json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")})
    print(f"fingerprint: wrote {out} ({found['rows']:,} rows, last month {found['last_month']})")


def _design_check(cfg: config.Intervention):
    """The check of params against the data, run on a series before anything is written."""
    from pipeline.preflight import check_design, series_from_table

    return lambda table, quality: check_design(cfg, series_from_table(table), quality)


def _prepare(args) -> None:
    from pipeline.data.prepare import prepare

    cfg = config.load_intervention(args.key)
    out = config.paths().processed(args.key)
    prepare(_input(cfg), out, **_extract_arguments(cfg), check_series=_design_check(cfg))
    print(f"prepare: wrote {out / 'series.parquet'}")


def _validate(args) -> None:
    """Check every intervention's extract (quirks included) and its design against the data,
    and report all their problems."""
    from pipeline.data import ExtractError, check_extract
    from pipeline.data.prepare import check_output_folder

    root = config.project_root()
    failed = []
    for key in args.keys or config.intervention_keys(root):
        try:
            cfg = config.load_intervention(key, root)
            problems = ([] if cfg.source else
                        check_output_folder(cfg.extract, config.paths(root).processed(key)))
            if problems:
                raise ExtractError(problems)
            table, quality = check_extract(_input(cfg, root), **_extract_arguments(cfg))
            _design_check(cfg)(table, quality)
        except PipelineError as exc:
            print(f"validate {key}: {exc}", file=sys.stderr)
            failed.append(key)
            continue
        shown = _input(cfg, root) if cfg.source else _shown(cfg.extract, root)
        print(f"validate: {shown} is a valid extract for {key}, and its "
              f"design in params.yaml fits the data")
    if failed:
        raise _Failed(f"{len(failed)} intervention(s) failed validation: {', '.join(failed)}")


def _shown(path, root) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class _Failed(PipelineError):
    """Problems already printed; only the summary line is left to say."""


class _Unexpected(Exception):
    """A failure that is not the input's: the message says where the traceback was saved."""


def _save_traceback(command: str, text: str) -> Path:
    """Save a traceback for whoever debugs it, outside the project (never under data/ or
    reports/, so a failed run changes nothing there)."""
    folder = Path(tempfile.gettempdir()) / "pipeline-errors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{command}-{datetime.now():%Y%m%d-%H%M%S}-{id(text) % 10**6}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _evaluate(args) -> None:
    """Check the prepared series against params (the words validate uses), then run the
    notebook; a pipeline error raised inside the notebook is shown as its message."""
    from papermill.exceptions import PapermillExecutionError

    from pipeline.preflight import check_prepared
    from pipeline.report.build import build_report

    root = config.project_root()
    cfg = config.load_intervention(args.key, root)
    check_prepared(cfg, config.paths(root))
    try:
        out = build_report(args.key)
    except PapermillExecutionError as exc:
        message = message_from_notebook_error(exc.ename, exc.traceback)
        if message is not None:
            raise _Failed(message) from None
        log = _save_traceback("evaluate", str(exc))
        raise _Unexpected(
            f"evaluate {args.key}: the evaluation notebook stopped in cell {exc.exec_count} with "
            f"{exc.ename}: {excerpt(exc.evalue, 300)}. This is not a problem the checks of the "
            f"input know about. Where to look: the notebook's traceback is saved in {log}; run "
            f"`python -m pipeline validate {args.key}`, and if it passes, report the saved "
            "traceback.") from None
    print(f"evaluate: wrote {out}")


def _index(args) -> None:
    from pipeline.report.index import write_index

    out = write_index()
    print(f"index: wrote {out}")


def _new(args) -> None:
    from pipeline.scaffold import new

    params, page = new(args.key)
    print(f"new: added interventions.{args.key} to {params} and wrote {page}; fill in every "
          f"TODO, put the extract where `extract:` says, then run "
          f"`python -m pipeline validate {args.key}`")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="write synthetic extracts with known effects")
    s.add_argument("keys", nargs="*", help="interventions (default: simulation.interventions)")
    s.set_defaults(run=_simulate)
    s = sub.add_parser("validate", help="check extracts against their schema, run nothing else")
    s.add_argument("keys", nargs="*", help="interventions (default: all in params.yaml)")
    s.set_defaults(run=_validate)
    s = sub.add_parser("prepare", help="validate one extract and aggregate it to monthly series")
    s.add_argument("key")
    s.set_defaults(run=_prepare)
    s = sub.add_parser("fingerprint", help="write a database source's fingerprint (DVC "
                                           "reruns prepare when it changes)")
    s.add_argument("key")
    s.set_defaults(run=_fingerprint)
    s = sub.add_parser("evaluate", help="run the evaluation notebook and write the report")
    s.add_argument("key")
    s.set_defaults(run=_evaluate)
    s = sub.add_parser("new", help="start a new evaluation: params entry and data dictionary")
    s.add_argument("key")
    s.set_defaults(run=_new)
    s = sub.add_parser("index", help="write reports/index.html")
    s.set_defaults(run=_index)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except _Unexpected as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("error: interrupted; outputs already written are unchanged", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say where the traceback is, never print it
        log = _save_traceback(args.command, traceback.format_exc())
        print(f"error: {args.command} failed unexpectedly with {type(exc).__name__}: "
              f"{excerpt(exc, 300)}. This is a bug, not a problem with your input that the "
              f"checks know about. Where to look: the full traceback is saved in {log}; please "
              "report it with the command you ran.", file=sys.stderr)
        return 3
    return 0
