"""The report's answer in words: title block, commissioners' summary, index lines.

Every function takes a :class:`~pipeline.report.story.Story` and returns text (Markdown); none
displays. Each number is a row of the evaluation result (``story.ev``): the headline's
effects table, the published before/after table, the equity result (docs/adr/0140).
"""

from __future__ import annotations

import os.path

import pandas as pd

from pipeline import config
from pipeline.evaluation.judgements import first_phase_months
from pipeline.evaluation.series import equity_outcomes
from pipeline.report import equity_answer, index, wording


def header(story) -> str:
    """Title, simulated-data banner, version, design, window, phases and the data's source."""
    cfg = story.cfg
    phases = "; ".join(f"{p.name} from {p.start:%B %Y}" for p in cfg.phases)
    if cfg.unit_starts:
        starts = sorted(cfg.unit_starts.values())
        phases += (f" (each {cfg.unit_label}'s own start, {starts[0]:%B %Y} to "
                   f"{starts[-1]:%B %Y})")
    return "\n".join([
        f"# {cfg.title}",
        "",
        *([wording.SIMULATED_BANNER, ""] if story.simulated else []),
        f"**Report version** `{story.manifest['version']}` · intervention key `{cfg.key}` · "
        f"design: {cfg.design} · window {cfg.window.start:%B %Y} to {cfg.window.end:%B %Y} · "
        f"phases: {phases}.",
        "",
        f"**Data source** {data_source(story)} · data to {data_to(story):%B %Y} (the report's "
        "date: it is rebuilt when the data change and carries no clock time).",
    ])


def data_source(story) -> str:
    """Where the records came from, as params name it: the extract file or the database
    table (never its URL, which holds a password; docs/databases.md)."""
    if story.cfg.source:
        return f"table `{story.cfg.source['table']}` in a database"
    return f"`{story.cfg.raw['extract']}`" + (" (simulated)" if story.simulated else "")


def data_to(story) -> pd.Timestamp:
    """The latest month of the data: the report's date (dates come from the data)."""
    return pd.Timestamp(story.ev.series["month"].max())


def confidence(story) -> wording.Confidence:
    """The headline's confidence rating, from the checks the evaluation recorded."""
    e = story.ev.confidence
    return wording.confidence(ci_excludes_null=e.ci_excludes_null,
                              min_points_per_segment=e.min_points_per_segment,
                              autocorrelated=e.autocorrelated,
                              sensitivity_agrees=e.sensitivity_agrees,
                              placebo_significant=e.placebo_significant,
                              period=story.cfg.period)


def start_phrase(story) -> str:
    """When the headline's immediate change happens, true of the design: a staggered roll-out
    has no single start month, so each unit's own start is named as a range."""
    cfg = story.cfg
    first = cfg.phases[0]
    if cfg.unit_starts:
        starts = sorted(cfg.unit_starts.values())
        return (f"each {cfg.unit_label}'s own start of “{first.name}” "
                f"({starts[0]:%B %Y} to {starts[-1]:%B %Y}),")
    return f"the start of the first phase, “{first.name}” ({first.start:%B %Y}),"


def headline_sentences(story) -> list[str]:
    """The answer on the scale people use: percentages before and after, the difference in
    percentage points at the largest horizon, extra events in counts; the ratio second."""
    outcome = story.cfg.headline
    what = wording.noun(outcome.label)
    compared = story.compared()
    answer = []
    ba = story.headline_before_after()
    if ba is not None:
        window = story.cfg.before_after
        answer.append(wording.before_after_sentence(what, ba["before"], ba["after"],
                                                    window.before_months, window.after_months))
    horizon = story.horizon(outcome.key)
    if horizon:
        diff = story.effect(outcome.key, f"abs_diff_h{horizon}")
        answer.append(wording.difference_sentence(what, diff["estimate"], diff["ci_low"],
                                                  diff["ci_high"], horizon,
                                                  outcome.improvement, compared,
                                                  story.cfg.period))
    excess = story.effect(outcome.key, "cumulative_excess")
    answer.append(wording.cumulative_sentence(excess["estimate"], excess["ci_low"],
                                              excess["ci_high"], outcome.events, compared))
    _, ratio_name = story.natural(outcome)
    level = story.level(outcome)
    answer.append(wording.ratio_sentence(what, level["estimate"], level["ci_low"],
                                         level["ci_high"], ratio_name, start_phrase(story),
                                         outcome.improvement))
    warning = wording.short_phase_warning(
        story.first_phase(), first_phase_months(story.cfg, story.ev.its[outcome.key]),
        story.cfg.period)
    if warning:
        answer.append(warning)
    return answer


def summary(story) -> str:
    """The commissioner's page: question, answer, size, equity, confidence and why."""
    outcome = story.cfg.headline
    what = wording.noun(outcome.label)
    result = story.ev.its[outcome.key]
    autocorrelation = wording.autocorrelation_sentence(result.diagnostics["ljung_box_p"],
                                                       result.spec.errors)
    harms = equity_alerts(story)
    disagreement = equity_disagreement(story)
    target = target_answer(story)
    lines = [
        f"**Question.** {story.cfg.question}",
        "",
        f"**Answer for the headline outcome, {what}.**",
        "",
        *[f"- {sentence}" for sentence in headline_sentences(story)],
        "",
        f"**Equity.** {equity_sentence(story)}" + (f" {disagreement}" if disagreement else ""),
        *([""] + [f"**Warning (equity).** {h}" for h in harms] if harms else []),
        *([""] + [target] if target else []),
        *[line for text in other_answers(story) for line in ("", text)],
        "",
        f"**{confidence(story).sentence()}**" + (f" {autocorrelation}" if autocorrelation else ""),
        "",
        "These are associations in observational data: they show what changed after the "
        "start, not proof that the intervention caused it.",
    ]
    return "\n".join(lines)


def target_answer(story) -> str | None:
    """Did the gap between the params' target group and everyone else narrow? (headline
    outcome; docs/adr/0078)"""
    if story.ev.target_gap is None:
        return None
    from pipeline import target_group

    return target_group.answer(target_group.describe(story.cfg), story.cfg.headline.label,
                               story.ev.target_gap, story.equity_tables["equity_before_after"],
                               story.cfg.headline.key, story.cfg.alpha)


def short_labels(table: pd.DataFrame, rows: pd.DataFrame) -> list[str]:
    """Labels of ``rows`` without the words every label of ``table`` starts with
    ("Unmet need recorded, housing" -> "housing")."""
    common = os.path.commonprefix(list(table["outcome"]))
    cut = common.rfind(", ") + 2 if ", " in common else 0
    return [wording.noun(label[cut:]) for label in rows["outcome"]]


def other_answers(story) -> list[str]:
    """One line for the staff outcomes and one per group of outcomes (e.g. the 7 areas of
    unmet need): the immediate change at the first phase each is evaluated at."""
    cfg, lines = story.cfg, []
    staff = story.reported_outcomes("staff")
    if staff:
        parts = []
        for o in staff:
            _, name = story.natural(o)
            changes = []
            for phase in cfg.phases_of(o):
                level = story.level(o, phase.name)
                changes.append(f"at “{phase.name}” {wording.fmt(level['estimate'])} "
                               f"({wording.interval(level['ci_low'], level['ci_high'])})")
            parts.append(f"{wording.noun(o.label)}: " + ", ".join(changes))
        lines.append(f"**Staff.** Immediate change ({name}, 95% CI) in "
                     + "; ".join(parts) + ".")
    for group, table in story.ev.groups.items():
        rose = table[(table["p_adjusted"] < cfg.alpha) & (table["estimate"] > 1)]
        fell = table[(table["p_adjusted"] < cfg.alpha) & (table["estimate"] < 1)]
        name = group.replace("_", " ").capitalize()
        text = (f"**{name}.** At “{table['phase'].iloc[0]}”, a clear rise (adjusted "
                f"p < {cfg.alpha:g}) in {len(rose)} of {len(table)}"
                + (": " + ", ".join(short_labels(table, rose)) if len(rose) else ""))
        if len(fell):
            text += "; a clear fall in " + ", ".join(short_labels(table, fell))
        lines.append(text + ".")
    return lines


def equity_sentence(story, outcome: config.Outcome | None = None) -> str:
    """Did the gap between the most and least deprived fifths narrow? (docs/equity.md)"""
    outcome = outcome or story.cfg.headline
    against = ("the earlier trends" if story.cfg.design != "controlled"
               else f"the same fifths in {story.compared()}")
    primary = story.cfg.equity_primary
    return equity_answer.gap_sentence(story.ev.equity, outcome.key, outcome.label,
                                       horizon=primary.horizon,
                                       improvement=outcome.improvement, against=against,
                                       estimand=primary.estimand,
                                       smallest_effect=primary.smallest_effect)


def gap_answers(story) -> dict[str, equity_answer.GapAnswer]:
    """Each outcome's equity answer (outcomes whose gap could not be modelled are left out)."""
    primary = story.cfg.equity_primary
    answers = {o.key: equity_answer.gap_answer(story.ev.equity, o.key, primary.horizon,
                                                improvement=o.improvement,
                                                estimand=primary.estimand,
                                                smallest_effect=primary.smallest_effect)
               for o in equity_outcomes(story.cfg)} if story.ev.equity else {}
    return {k: a for k, a in answers.items() if a is not None}


def equity_disagreement(story) -> str | None:
    """Secondary equity estimates of the headline outcome that disagree with the primary."""
    outcome = story.cfg.headline
    primary = gap_answers(story).get(outcome.key)
    if primary is None:
        return None
    secondary = equity_answer.secondary_answers(
        story.ev.equity, outcome.key, story.equity_tables["equity_gaps"], outcome.improvement,
        story.cfg.equity_primary)
    return equity_answer.disagreement_sentence(primary, secondary)


def equity_alerts(story) -> list[str]:
    """A sentence for every outcome whose gap moved clearly against the most deprived; always
    shown in the summary and the index, whether or not it is the headline outcome."""
    labels = {o.key: o.label for o in story.cfg.outcomes}
    return [f"{labels[k]}: the gap moved against the most deprived. {a.short()}."
            for k, a in gap_answers(story).items() if a.against_most_deprived]


def equity_line(story) -> str:
    """The equity answer for the index: the headline's verdict, then any harm warning."""
    cfg = story.cfg
    answer = gap_answers(story).get(cfg.headline.key)
    text = (f"{cfg.headline.label}: {answer.short()}." if answer
            else f"Not estimated (quintile {cfg.equity_primary.most} or "
                 f"{cfg.equity_primary.least} too sparse).")
    return text + "".join(f" {index.HARM} {a}" for a in equity_alerts(story))


def summary_line(story) -> str:
    """The headline for the index: percentages before and after, the difference in points
    at the largest horizon with its CI, then the ratio."""
    outcome = story.cfg.headline
    parts = []
    ba = story.headline_before_after()
    if ba is not None:
        parts.append(f"{wording.percent(ba['before'])} before, "
                     f"{wording.percent(ba['after'])} after")
    horizon = story.horizon(outcome.key)
    if horizon:
        diff = story.effect(outcome.key, f"abs_diff_h{horizon}")
        parts.append(f"{wording.points(diff['estimate'])} at {horizon} months against "
                     f"{story.compared().removesuffix(' predicts')} "
                     f"({wording.interval(diff['ci_low'] * 100, diff['ci_high'] * 100, 1)})")
    _, ratio_name = story.natural(outcome)
    level = story.level(outcome)
    parts.append(f"immediate change {ratio_name} {wording.fmt(level['estimate'])} "
                 f"({wording.interval(level['ci_low'], level['ci_high'])})")
    return f"{outcome.label}: " + "; ".join(parts)
