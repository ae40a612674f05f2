"""The heterogeneity table of a report shows the tests a reader needs, not all 45 (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.equity_tables import HETEROGENEITY_COLUMNS, heterogeneity_view


def _tests(p_adjusted) -> pd.DataFrame:
    n = len(p_adjusted)
    dims = ["imd_quintile", "ethnicity", "sex", "age_band", "homeless"]
    return pd.DataFrame({
        "outcome": "x", "dimension": [dims[i % 5] for i in range(n)],
        "phase": "Roll-out", "estimand": ["level_change", "slope_change",
                                          "level_and_slope_change"] * (n // 3),
        "statistic": np.linspace(1, 30, n), "df": 4, "p_value": np.array(p_adjusted) / 45,
        "p_adjusted": p_adjusted, "i_squared": 0.3, "n_strata": 5, "method": "Wald"})


def test_only_tests_with_evidence_after_adjustment_are_shown():
    p = [1.0] * 45
    p[7], p[30] = 0.02, 0.004
    shown, text = heterogeneity_view(_tests(p), 0.05)
    assert len(shown) == 2 and list(shown.columns) == HETEROGENEITY_COLUMNS
    assert list(shown["p_adjusted"]) == [0.004, 0.02]          # most convincing first
    assert shown["dimension"].iloc[0] == "IMD quintile (1 = most deprived)"
    assert text.startswith("2 of 45 tests show evidence that the change differs")


def test_with_no_evidence_the_closest_test_is_named_and_no_rows_shown():
    p = [1.0] * 45
    p[4] = 0.116
    shown, text = heterogeneity_view(_tests(p), 0.05)
    assert shown.empty
    assert text == ("None of the 45 tests shows evidence that the change differs between groups "
                    "after adjustment (adjusted p < 0.05); the closest is Homeless, change in "
                    "trend, per month at “Roll-out” (adjusted p 0.116).")
