"""Synthetic control: a weighted average of comparator units fitted to the treated unit's past.

Abadie, Diamond & Hainmueller (2010): the synthetic unit is ``sum_j w_j Y_j`` with weights on
the simplex (``w_j >= 0``, ``sum w_j = 1``) chosen so that it tracks the treated unit before the
start. Here the weights minimise the squared distance over EVERY pre-period value of the
outcome (the "all outcome lags" variant, ``V`` the identity; Kaul et al. 2022 and Ferman,
Pinto & Possebom 2020 discuss it): no covariates are needed, which is what a service-level
monthly extract has. ADH 2010 also matched on covariates (income, prices, beer, youth share),
so their weights differ from ours on the same data; see ``docs/adr/0117``.

Inference is ADH's placebo-in-space test: every comparator in turn is treated as if it had the
intervention, with the other comparators as its donors; each unit's ratio of post- to
pre-period root mean squared prediction error (RMSPE) is computed, and the p-value is the
treated unit's rank among all ``J + 1`` ratios divided by ``J + 1`` (ADH 2010 sec. 4.2, the
1/39 = 0.026 of Proposition 99). With J comparators the smallest p-value is ``1 / (J + 1)``: with
three comparators it is 0.25, and the report says that no test at 5% is possible.

The weights solve a small quadratic programme exactly: scipy's non-negative least squares
(Lawson-Hanson) finds the support, the equality-constrained least squares on that support is
solved from its KKT system and checked for optimality, with scipy's SLSQP as the fallback
(:func:`simplex_weights`; docs/adr/0117).

References
----------
Abadie A, Diamond A, Hainmueller J. Synthetic control methods for comparative case studies:
estimating the effect of California's tobacco control program. J Am Stat Assoc
2010;105:493-505.
Abadie A. Using synthetic controls: feasibility, data requirements, and methodological
aspects. J Econ Lit 2021;59:391-425.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

MIN_PRE = 5
ZERO_WEIGHT = 1e-6


@dataclass
class SyntheticControlResult:
    """Result of :func:`fit_synthetic_control`.

    Attributes
    ----------
    weights : DataFrame
        ``unit, weight`` for every comparator, largest first.
    series : DataFrame
        ``period, treated, synthetic, gap, post`` (gap = treated - synthetic).
    placebos : DataFrame
        ``unit, pre_rmspe, post_rmspe, ratio, treated`` for the treated unit and every
        placebo, largest ratio first, with the placebo gaps in ``placebo_gaps`` (wide).
    effects : DataFrame
        ``estimand, estimate, p_value, method, n`` rows: ``average_gap`` (mean post-period
        gap), ``final_gap`` (the last period's), ``pre_rmspe``, ``rmspe_ratio``.
    p_value : float
        Placebo-in-space p-value: rank of the treated unit's RMSPE ratio / (J + 1).
    rank : int
    n_units : int
        J + 1.
    """

    weights: pd.DataFrame
    series: pd.DataFrame
    placebos: pd.DataFrame
    placebo_gaps: pd.DataFrame
    effects: pd.DataFrame
    p_value: float
    rank: int
    n_units: int
    pre_rmspe: float
    method: str

    @property
    def smallest_possible_p(self) -> float:
        return 1.0 / self.n_units


def simplex_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Weights on the simplex minimising ``||target - donors @ w||^2``.

    Lawson-Hanson non-negative least squares (``scipy.optimize.nnls``, an exact active-set
    method) on the system augmented with the row ``M * sum(w) = M`` (M large), then the
    equality-constrained least squares solved exactly on the chosen support (its KKT system):
    the exact minimiser whenever the support is right, which the final check confirms (all
    weights positive, no left-out donor that would lower the objective); SLSQP otherwise.
    """
    k = donors.shape[1]
    if k == 1:
        return np.ones(1)
    scale = float(np.sqrt(np.mean(donors ** 2))) or 1.0
    X, y = donors / scale, target / scale
    big = 1e3 * max(1.0, float(np.abs(X).max()) * np.sqrt(len(y)))
    A = np.vstack([X, np.full((1, k), big)])
    b = np.append(y, big)
    w, _ = optimize.nnls(A, b, maxiter=50 * k)
    support = w > ZERO_WEIGHT
    exact = _on_support(X, y, support)
    if exact is not None and _is_optimal(X, y, exact):
        return exact
    return _slsqp(X, y, w / w.sum())


def _on_support(X, y, support) -> np.ndarray | None:
    """Least squares on the support with sum(w) = 1 (KKT system); None if a weight <= 0."""
    S = X[:, support]
    m = S.shape[1]
    kkt = np.zeros((m + 1, m + 1))
    kkt[:m, :m] = 2 * S.T @ S
    kkt[:m, m] = kkt[m, :m] = 1.0
    rhs = np.append(2 * S.T @ y, 1.0)
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        return None
    if (sol[:m] <= 0).any():
        return None
    w = np.zeros(X.shape[1])
    w[support] = sol[:m]
    return w / w.sum()


def _is_optimal(X, y, w, tol=1e-9) -> bool:
    """KKT conditions of the simplex problem: the gradient is equal on the support and no
    smaller off it."""
    grad = -2 * X.T @ (y - X @ w)
    on = w > 0
    level = grad[on].mean()
    spread = max(1.0, abs(level))
    return bool(np.all(np.abs(grad[on] - level) <= tol * spread * 1e3)
                and np.all(grad[~on] >= level - tol * spread * 1e3))


def _slsqp(X, y, start) -> np.ndarray:
    res = optimize.minimize(
        lambda w: float((y - X @ w) @ (y - X @ w)), start,
        jac=lambda w: -2.0 * X.T @ (y - X @ w), method="SLSQP",
        bounds=[(0.0, 1.0)] * X.shape[1],
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                      "jac": lambda w: np.ones_like(w)}],
        options={"ftol": 1e-14, "maxiter": 2000})
    w = np.where(res.x < ZERO_WEIGHT, 0.0, res.x)
    return w / w.sum()


def _rmspe(gap: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gap ** 2)))


def _fit_one(wide: pd.DataFrame, treated: str, donors: list[str], pre: np.ndarray):
    y = wide[treated].to_numpy(float)
    X = wide[donors].to_numpy(float)
    w = simplex_weights(y[pre], X[pre])
    synthetic = X @ w
    return w, synthetic, y - synthetic


def fit_synthetic_control(panel: pd.DataFrame, treated: str, start, donors=None,
                          time: str = "period", unit: str = "unit", value: str = "value"
                          ) -> SyntheticControlResult:
    """Synthetic control of ``treated`` from ``donors`` (default: every other unit).

    ``panel``: long table ``unit, period, value`` (one row per unit and period; ``period``
    anything ordered: years, months); ``start``: the first treated period. Every unit needs
    every period. Raises ValueError naming the unit or period otherwise.
    """
    wide = panel.pivot_table(index=time, columns=unit, values=value, aggfunc="first")
    wide.columns = [str(c) for c in wide.columns]
    treated = str(treated)
    if treated not in wide.columns:
        raise ValueError(f"synthetic control: treated unit {treated!r} is not in the data")
    donors = [str(d) for d in (donors if donors is not None else wide.columns)
              if str(d) != treated]
    missing = [d for d in donors if d not in wide.columns]
    if missing:
        raise ValueError(f"synthetic control: comparator(s) {missing} not in the data")
    if len(donors) < 2:
        raise ValueError("synthetic control needs at least 2 comparator units "
                         f"(got {len(donors)})")
    wide = wide[[treated, *donors]]
    if wide.isna().any().any():
        u = wide.columns[wide.isna().any()][0]
        p = wide.index[wide[u].isna()][0]
        raise ValueError(f"synthetic control: unit {u!r} has no value for period {p} "
                         "(every unit needs every period)")
    pre = np.asarray(wide.index < start)
    if pre.sum() < MIN_PRE:
        raise ValueError(f"synthetic control: {int(pre.sum())} periods before {start} "
                         f"(at least {MIN_PRE} needed to fit the weights)")
    if pre.all():
        raise ValueError(f"synthetic control: no period from {start} on")

    w, synthetic, gap = _fit_one(wide, treated, donors, pre)
    rows = [_ratio_row(treated, gap, pre, True)]
    placebo_gaps = {treated: gap}
    for d in donors:  # placebo in space: each comparator "treated", the others its donors
        others = [o for o in donors if o != d]
        _, _, g = _fit_one(wide, d, others, pre)
        rows.append(_ratio_row(d, g, pre, False))
        placebo_gaps[d] = g
    placebos = pd.DataFrame(rows).sort_values(["ratio", "treated"], ascending=[False, False],
                                              kind="mergesort").reset_index(drop=True)
    ratio = rows[0]["ratio"]
    rank = int((placebos["ratio"] >= ratio).sum())
    n_units = len(placebos)
    p_value = rank / n_units
    pre_rmspe = rows[0]["pre_rmspe"]
    method = (f"Synthetic control (Abadie, Diamond & Hainmueller 2010): weights over {len(donors)} "
              f"comparators on the simplex fitted to all {int(pre.sum())} pre-period values; "
              f"placebo-in-space p-value from the post/pre RMSPE ratio ({n_units} units)")
    n = len(wide)
    effects = pd.DataFrame([
        {"estimand": "average_gap", "estimate": float(gap[~pre].mean()), "p_value": p_value},
        {"estimand": "final_gap", "estimate": float(gap[-1]), "p_value": np.nan},
        {"estimand": "pre_rmspe", "estimate": pre_rmspe, "p_value": np.nan},
        {"estimand": "rmspe_ratio", "estimate": ratio, "p_value": p_value},
    ]).assign(method=method, n=n)
    weights = (pd.DataFrame({"unit": donors, "weight": w})
               .sort_values(["weight", "unit"], ascending=[False, True], kind="mergesort")
               .reset_index(drop=True))
    series = pd.DataFrame({"period": wide.index, "treated": wide[treated].to_numpy(float),
                           "synthetic": synthetic, "gap": gap, "post": ~pre})
    return SyntheticControlResult(
        weights=weights, series=series, placebos=placebos,
        placebo_gaps=pd.DataFrame(placebo_gaps, index=wide.index), effects=effects,
        p_value=p_value, rank=rank, n_units=n_units, pre_rmspe=pre_rmspe, method=method)


def _ratio_row(name, gap, pre, treated) -> dict:
    pre_r, post_r = _rmspe(gap[pre]), _rmspe(gap[~pre])
    return {"unit": name, "pre_rmspe": pre_r, "post_rmspe": post_r,
            "ratio": post_r / pre_r if pre_r > 0 else np.inf, "treated": treated}


def monthly_panel(series: pd.DataFrame, comparators) -> tuple[pd.DataFrame, str]:
    """One outcome's monthly series by unit as the long ``unit, period, value`` panel of
    proportions, the treated units summed into one unit named ``"treated"``."""
    comparators = {str(c) for c in comparators}
    frame = series.copy()
    frame["unit"] = frame["unit"].astype(str)
    frame.loc[~frame["unit"].isin(comparators), "unit"] = "treated"
    sums = frame.groupby(["unit", "month"], as_index=False)[["numerator", "denominator"]].sum()
    sums["value"] = sums["numerator"] / sums["denominator"]
    sums = sums.rename(columns={"month": "period"})
    return sums[["unit", "period", "value"]], "treated"
