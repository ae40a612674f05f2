"""Multiplicity adjustment (Holm 1979; Benjamini & Hochberg 1995), worked by hand."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from pipeline.stats.multiplicity import adjust, adjust_table, describe

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand():
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running
    maximum 0.02, 0.03, 0.06, 0.06."""
    adjusted, reject = adjust(P, "holm")
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert reject.tolist() == [True, False, False, True]


def test_benjamini_hochberg_by_hand():
    """Sorted p times 4/rank = 0.02, 0.02, 0.04, 0.04 -> running minimum from the top."""
    adjusted, reject = adjust(P, "fdr_bh")
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert reject.all()
    assert adjusted == pytest.approx(multipletests(P, method="fdr_bh")[1])


def test_none_and_missing_values():
    adjusted, reject = adjust([0.2, np.nan, 0.01], "none")
    assert np.isnan(adjusted[1]) and adjusted[0] == 0.2 and reject.tolist() == [False, False, True]
    holm, _ = adjust([0.01, np.nan, 0.02], "holm")
    assert holm[[0, 2]] == pytest.approx([0.02, 0.02])  # family of 2, not 3


def test_bad_method_and_p():
    with pytest.raises(ValueError, match="holm, fdr_bh, none"):
        adjust(P, "bonferroni")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust([1.5], "holm")


def test_adjust_table_shares_twin_rows_and_family():
    table = pd.DataFrame({"test": ["a", "a", "b", "c"], "p_value": [0.01, 0.01, 0.04, 0.5],
                          "primary": [True, True, True, False]})
    out = adjust_table(table, "holm", family=table["primary"], share=["test"])
    assert out["p_adjusted"].tolist()[:3] == pytest.approx([0.02, 0.02, 0.04])
    assert np.isnan(out.loc[3, "p_adjusted"])
    assert "over 2 tests" in out.loc[0, "adjustment"] and out.loc[3, "adjustment"] == ""


def test_describe_states_the_method():
    assert "Holm" in describe("holm", 12) and "family-wise" in describe("holm", 12)
    assert "Benjamini-Hochberg" in describe("fdr_bh", 3)
    assert "not adjusted" in describe("none", 3)
