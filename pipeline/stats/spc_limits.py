"""Centre line and process limits of one SPC phase: XmR, p-chart and Laney p'-chart.

As NHSRplotthedots' ``R/ptd_spc_standard.R`` (XmR, with moving-range screening after Nelson
1982), Montgomery (2009) section 7.2 (p-chart) and Laney (2002) (p'-chart); used by
:mod:`pipeline.stats.spc`.
"""

from __future__ import annotations

import numpy as np

#: Scaling factor for XmR limits: 3 / d2 with d2 = 1.128 for moving ranges of 2 (MDC uses 2.66).
XMR_LIMIT = 2.66
#: 2-sigma zone of an XmR chart, as NHSRplotthedots: 2 x (2.66 / 3).
XMR_LIMIT_2S = 2 * XMR_LIMIT / 3
#: Upper range limit: moving ranges at or above 3.267 x mean MR are screened out (D4 for n=2).
MR_SCREEN = 3.267
#: d2 for moving ranges of two observations (Laney's sigma_z = mean MR(z) / d2).
D2 = 1.128


def xmr_limits(y: np.ndarray, fix_after: int | None, screen: bool) -> dict:
    """Limits of one phase exactly as NHSRplotthedots' ptd_spc_standard."""
    k = len(y) if fix_after is None else min(fix_after, len(y))
    base = y[:k]
    mean = float(base.mean())
    mr = np.abs(np.diff(base))
    amr = float(mr.mean()) if len(mr) else np.nan
    if screen and len(mr):
        kept = mr[mr < MR_SCREEN * amr]
        amr = float(kept.mean()) if len(kept) else amr
    n = len(y)
    return {"centre": np.full(n, mean), "lower": np.full(n, mean - XMR_LIMIT * amr),
            "upper": np.full(n, mean + XMR_LIMIT * amr),
            "lower_2s": np.full(n, mean - XMR_LIMIT_2S * amr),
            "upper_2s": np.full(n, mean + XMR_LIMIT_2S * amr),
            "n_baseline": k, "mean_moving_range": amr, "sigma_z": np.nan}


def p_limits(x: np.ndarray, n: np.ndarray, fix_after: int | None, laney: bool) -> dict:
    """p-chart (Montgomery 2009, 7.2) or Laney (2002) p'-chart limits for one phase."""
    k = len(x) if fix_after is None else min(fix_after, len(x))
    pbar = float(x[:k].sum() / n[:k].sum())
    sigma = np.sqrt(pbar * (1 - pbar) / n)
    sigma_z = np.nan
    if laney:
        p = x / n
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (p[:k] - pbar) / sigma[:k]
        mrz = np.abs(np.diff(z))
        sigma_z = float(np.mean(mrz) / D2) if len(mrz) and np.all(np.isfinite(mrz)) else np.nan
        if not np.isfinite(sigma_z):
            raise ValueError("SPC: Laney p' needs 0 < p_bar < 1 and at least 2 baseline months")
        sigma = sigma * sigma_z
    return {"centre": np.full(len(x), pbar),
            "lower": np.clip(pbar - 3 * sigma, 0, 1), "upper": np.clip(pbar + 3 * sigma, 0, 1),
            "lower_2s": np.clip(pbar - 2 * sigma, 0, 1),
            "upper_2s": np.clip(pbar + 2 * sigma, 0, 1),
            "n_baseline": k, "mean_moving_range": np.nan, "sigma_z": sigma_z}
