"""Command line: ``python -m pipeline <command>``, the thin layer the DVC stages call.

Each command reads params through :mod:`pipeline.config` and calls one function elsewhere.
Errors meant for a person (bad params, bad extracts) are printed without a traceback and exit
with status 2; nothing already written is changed when a command fails.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import config
from pipeline.errors import PipelineError


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
                outcomes=cfg.outcome_columns(),
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
    }


def _prepare(args) -> None:
    from pipeline.data.prepare import prepare

    cfg = config.load_intervention(args.key)
    out = config.paths().processed(args.key)
    prepare(cfg.extract, out, **_extract_arguments(cfg))
    print(f"prepare: wrote {out / 'series.parquet'}")


def _validate(args) -> None:
    """Check every intervention's extract (quirks included) and report all their problems."""
    from pipeline.data import ExtractError, validate_extract

    root = config.project_root()
    failed = []
    for key in args.keys or config.intervention_keys(root):
        try:
            cfg = config.load_intervention(key, root)
            validate_extract(cfg.extract, **_extract_arguments(cfg))
        except (config.ConfigError, ExtractError) as exc:
            print(f"validate {key}: {exc}", file=sys.stderr)
            failed.append(key)
            continue
        print(f"validate: {_shown(cfg.extract, root)} is a valid extract for {key}")
    if failed:
        raise _Failed(f"{len(failed)} intervention(s) failed validation: {', '.join(failed)}")


def _shown(path, root) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class _Failed(PipelineError):
    """Problems already printed; only the summary line is left to say."""


def _evaluate(args) -> None:
    from pipeline.report.build import build_report

    out = build_report(args.key)
    print(f"evaluate: wrote {out}")


def _index(args) -> None:
    from pipeline.report.index import write_index

    out = write_index()
    print(f"index: wrote {out}")


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
    s = sub.add_parser("evaluate", help="run the evaluation notebook and write the report")
    s.add_argument("key")
    s.set_defaults(run=_evaluate)
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
    return 0
