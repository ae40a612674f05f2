"""Adjustment of p-values for multiple comparisons across strata and outcomes.

Methods (chosen by the intervention's ``multiplicity`` parameter):

``holm``
    Holm (1979) step-down: controls the family-wise error rate (the chance of any false
    positive in the family) under any dependence between the tests.
``fdr_bh``
    Benjamini & Hochberg (1995) step-up: controls the false discovery rate (the expected
    share of false positives among the results called significant), under independence or
    positive dependence.
``none``
    No adjustment; the report says so.

Computed with ``statsmodels.stats.multitest.multipletests``. Missing p-values are left out of
the family and stay missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

METHODS = ("holm", "fdr_bh", "none")
LABELS = {
    "holm": "Holm's step-down adjustment (family-wise error rate)",
    "fdr_bh": "Benjamini-Hochberg adjustment (false discovery rate)",
    "none": "no adjustment for multiple comparisons",
}


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"multiplicity = {method!r} is not allowed; choose one of: {', '.join(METHODS)}")
    return method


def adjust(p_values, method: str = "holm", alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and reject decisions for one family of tests.

    Parameters
    ----------
    p_values : sequence of float
        NaN entries are ignored (not counted in the family) and returned as NaN / False.
    method : {"holm", "fdr_bh", "none"}
    alpha : float
        Family-wise error rate or false discovery rate.

    Returns
    -------
    (adjusted, reject) : ndarrays
    """
    check_method(method)
    p = np.asarray(p_values, dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    ok = ~np.isnan(p)
    if ok.any():
        if method == "none":
            adjusted[ok] = p[ok]
            reject[ok] = p[ok] <= alpha
        else:
            reject[ok], adjusted[ok] = multipletests(p[ok], alpha=alpha, method=method)[:2]
    return adjusted, reject


def adjust_table(table: pd.DataFrame, method: str = "holm", alpha: float = 0.05,
                 family: pd.Series | None = None, p_column: str = "p_value",
                 share=None) -> pd.DataFrame:
    """Add ``p_adjusted``, ``significant_adjusted`` and ``adjustment`` columns to a table.

    Parameters
    ----------
    family : boolean Series, optional
        Rows that form the family (default: every row with a p-value). Other rows get NaN.
    share : list of column names, optional
        Rows with equal values in these columns carry the same test (e.g. a log odds ratio and
        its odds-ratio twin): the family counts each such test once and every row gets its
        adjusted value.
    """
    out = table.copy()
    rows = family if family is not None else pd.Series(True, index=out.index)
    rows = rows & out[p_column].notna()
    out["p_adjusted"] = np.nan
    out["significant_adjusted"] = False
    sub = out[rows]
    if share:
        first = sub.drop_duplicates(share)
        adj, rej = adjust(first[p_column], method, alpha)
        lookup = first[share].assign(_adj=adj, _rej=rej)
        merged = sub[share].reset_index().merge(lookup, on=share, how="left").set_index("index")
        out.loc[merged.index, "p_adjusted"] = merged["_adj"]
        out.loc[merged.index, "significant_adjusted"] = merged["_rej"].astype(bool)
        n = len(first)
    else:
        adj, rej = adjust(sub[p_column], method, alpha)
        out.loc[sub.index, "p_adjusted"] = adj
        out.loc[sub.index, "significant_adjusted"] = rej
        n = len(sub)
    out["adjustment"] = np.where(rows, f"{LABELS[method]} over {n} tests", "")
    return out


def describe(method: str, n_tests: int, alpha: float = 0.05) -> str:
    """One sentence for the report, printed next to adjusted p-values."""
    check_method(method)
    if method == "none":
        return (f"P-values are not adjusted for the {n_tests} comparisons made; read stratum "
                "results as descriptive.")
    what = "family-wise error rate" if method == "holm" else "false discovery rate"
    name = "Holm's method" if method == "holm" else "the Benjamini-Hochberg method"
    return (f"Adjusted p-values use {name} over {n_tests} tests (strata x outcomes), "
            f"controlling the {what} at {alpha:.0%}.")
