"""The back-calculation attacks (pipeline/back_calculation.py) recover each kind of planted
leak, the publication scan refuses them, and what the publication layer writes passes.

Each planted leak is the exact kind seen in the first release's reports (issue 9): a proportion
to six digits beside a count rounded to 5, a before/after difference from exact counts, a
pointwise effect plus its counterfactual for a suppressed month, and a total minus its parts.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.back_calculation import attack_margins, attack_row, band, tolerance
from pipeline.config import Disclosure
from pipeline.disclosure import published_counts
from pipeline.publication_check import scan
from pipeline.report.publish import protect_before_after, with_published_observed
from pipeline.stats.before_after import compare_proportions

RULE = Disclosure()  # 1-7 suppressed, rounded to 5


def six(value: float) -> str:
    return f"{value:.6g}"


def test_bands_follow_the_rule():
    assert list(band("85", RULE)) == [83, 84, 85, 86, 87]
    assert list(band("[c]", RULE)) == list(range(1, 8))
    assert list(band("0", RULE)) == [0]
    assert list(band("10", RULE)) == [8, 9, 10, 11, 12]
    assert band("0.5", RULE) is None and band("label", RULE) is None


def test_tolerance_is_half_the_last_printed_digit_or_the_writers_promise():
    assert tolerance("0.0774194") == pytest.approx((0.0774194, 5e-8))
    assert tolerance("0.2", significant=6) == pytest.approx((0.2, 5e-7))
    assert tolerance("0.2") == pytest.approx((0.2, 0.05))
    assert tolerance("8.1%") == pytest.approx((0.081, 0.0005))


def test_proportion_from_exact_counts_gives_back_the_count():
    """The leak of issue 9: 85, 1085, 0.0774194 is 84/1085."""
    row = {"numerator": "85", "denominator": "1085", "proportion": six(84 / 1085)}
    found = attack_row(row, RULE, significant=6)
    assert [(f.column, f.value) for f in found] == [("numerator", 84)]


def test_complement_hidden_numerator_is_given_back_by_its_proportion():
    """hcv_referral: 10, 15, 0.692308 is 9/13 (the people not referred are a small number)."""
    row = {"numerator": "10", "denominator": "15", "proportion": six(9 / 13)}
    found = {(f.column, f.value) for f in attack_row(row, RULE, significant=6)}
    assert ("numerator", 9) in found and ("denominator", 13) in found


def test_proportion_from_published_counts_gives_nothing_back():
    row = {"numerator": "85", "denominator": "1085", "proportion": six(85 / 1085)}
    assert attack_row(row, RULE, significant=6) == []


@pytest.mark.parametrize("column", ["difference", "risk_ratio", "odds_ratio"])
def test_before_after_comparison_from_exact_counts_is_attacked(column):
    exact = compare_proportions(151, 1003, 98, 1012)
    row = {"numerator_before": "100", "denominator_before": "1010",
           "numerator_after": "150", "denominator_after": "1005", column: six(exact[column])}
    found = {(f.column, f.value) for f in attack_row(row, RULE, significant=6)}
    assert ("numerator_before", 98) in found or ("numerator_after", 151) in found


def test_pointwise_effect_of_a_suppressed_month_is_attacked():
    """Observed hidden, but observed minus counterfactual printed: 6 of 16 comes back."""
    counterfactual = 0.641456
    row = {"month": "2021-09", "numerator": "[c]", "denominator": "15", "observed": "",
           "counterfactual": six(counterfactual), "pointwise": six(6 / 16 - counterfactual)}
    found = {(f.column, f.value) for f in attack_row(row, RULE, significant=6)}
    assert ("numerator", 6) in found


def test_total_minus_its_parts_is_attacked():
    """Suppression without a second hidden cell: with no rounding (round_to 1, a rule some
    organisations use) the total gives the hidden stratum straight back."""
    rule = Disclosure(round_to=1)
    header = ["outcome", "dimension", "stratum", "numerator"]
    rows = [["o", "all", "all", "25"], ["o", "sex", "F", "10"], ["o", "sex", "M", "12"],
            ["o", "sex", "X", "[c]"]]
    found = attack_margins(header, rows, rule)
    assert [(r, f.value) for r, f in found] == [(4, 3)]
    rows[1][3] = "[c]"  # secondary suppression: two hidden cells, nothing pinned
    assert attack_margins(header, rows, rule) == []


@pytest.mark.parametrize("name, text", [
    ("tables/monthly_series.csv",
     f"outcome,month,numerator,denominator,proportion\nx,2020-01,85,1085,{six(84 / 1085)}\n"),
    ("plots/x.csv", "month,numerator,denominator,observed,counterfactual,pointwise\n"
                    f"2021-09,[c],15,,0.641456,{six(6 / 16 - 0.641456)}\n"),
    ("report.html", "<table><tr><th>numerator</th><th>denominator</th><th>proportion</th></tr>"
                    "<tr><td>85</td><td>1085</td><td>0.0774194</td></tr></table>"),
])
def test_scan_refuses_each_planted_leak(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    assert {v.kind for v in scan(tmp_path, RULE)} == {"recovered_count"}


def test_published_counts_hide_small_and_complement_and_round():
    num, den = published_counts(pd.Series([84, 3, 9, 0]), pd.Series([1085, 40, 13, 50]), RULE)
    assert list(den) == [1085, 40, 15, 50]
    assert list(num.fillna(-1)) == [85, -1, -1, 0]


def test_what_the_publication_layer_writes_survives_the_attacks():
    """A before/after table with small and near-complete strata, through the real layer."""
    rows = []
    for stratum, (x0, n0, x1, n1) in {"all": (311, 2051, 402, 2010), "1": (84, 1085, 120, 1090),
                                      "2": (221, 958, 277, 912), "3": (6, 8, 5, 8)}.items():
        rows.append({"outcome": "o", "dimension": "all" if stratum == "all" else "imd",
                     "stratum": stratum, "numerator_before": x0, "denominator_before": n0,
                     "numerator_after": x1, "denominator_after": n1,
                     **compare_proportions(x1, n1, x0, n0)})
    published = protect_before_after(pd.DataFrame(rows), RULE, 0.05)
    cells = published.map(lambda v: v if isinstance(v, str) else six(v) if isinstance(v, float)
                          else str(v))
    for row in cells.to_dict("records"):
        assert attack_row(row, RULE, significant=6) == []
    assert attack_margins(list(cells.columns), cells.to_numpy().tolist(), RULE) == []
    shown = published[published["numerator_before"] != "[c]"]
    assert len(shown) >= 2  # the total and at least one stratum stay visible
    for r in shown.itertuples():
        assert r.before == pytest.approx(r.numerator_before / r.denominator_before)


def test_observed_points_come_from_published_counts():
    frame = pd.DataFrame({"numerator": [84, 6], "denominator": [1085, 16],
                          "observed": [84 / 1085, 6 / 16]})
    out = with_published_observed(frame, RULE)
    assert out["observed"].iloc[0] == pytest.approx(85 / 1085)
    assert pd.isna(out["observed"].iloc[1])


def test_page_labels_in_per_cent_are_attacked_like_variable_names(tmp_path):
    """The HTML tables print "Events", "Total" and "Before (%)" (pipeline.report.wording):
    a percentage from exact counts still gives them back (9/13 is 69.2%)."""
    leak = {"Events before": "10", "Total before": "15", "Before (%)": "69.2"}
    assert {(f.column, f.value) for f in attack_row(leak, RULE)} >= {("Events before", 9)}
    safe = {"Events before": "10", "Total before": "15", "Before (%)": f"{100 * 10 / 15:.1f}"}
    assert attack_row(safe, RULE) == []
