"""The structured key of an estimand: what is estimated, on which scale, at which horizon.

Every row of an ITS effects table (:mod:`pipeline.stats.its_estimands`) names its estimand by
a string (``level_change_or``, ``abs_diff_h12``); the string stays exactly as published, but
readers should not parse it back. They filter on the key's columns instead
(:data:`KEY_COLUMNS`: ``quantity``, ``estimand_scale``, ``horizon``; docs/adr/0150):

* ``pre_trend``, ``level_change``, ``slope_change``, ``post_trend`` (coefficients): scale
  ``link`` (log odds, log rate, or the proportion for gaussian; name ``level_change``) or its
  exponentiated twin ``odds_ratio`` / ``rate_ratio`` (``level_change_or`` /
  ``level_change_rr``); no horizon.
* ``difference`` (fitted minus, or over, counterfactual in month ``h`` of the post period):
  scale ``absolute`` or ``relative``, horizon ``h`` (``abs_diff_h12``, ``rel_diff_h12``).
* ``average_effect`` (over the fitted post-period months): ``absolute`` or ``relative``
  (``average_effect``, ``average_rel_effect``); no horizon.
* ``cumulative_excess``: scale ``events``; no horizon.

The column is ``estimand_scale`` because the effects table's ``scale`` column already holds
the scale in words ("log odds ratio per month").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

#: The natural-scale twins of a coefficient and the suffix of their name.
RATIO_SUFFIX = {"odds_ratio": "_or", "rate_ratio": "_rr"}
RATIO_SCALES = tuple(RATIO_SUFFIX)
#: Quantities that are (sums of) model coefficients: the link scale and its ratio twin.
COEFFICIENTS = ("pre_trend", "level_change", "slope_change", "post_trend")
#: Quantities built from fitted minus counterfactual: absolute and relative.
CONTRASTS = ("difference", "average_effect")
SCALES_OF = {**{q: ("link", *RATIO_SCALES) for q in COEFFICIENTS},
             **{q: ("absolute", "relative") for q in CONTRASTS},
             "cumulative_excess": ("events",)}
#: The key's columns in an effects table, in this order.
KEY_COLUMNS = ["quantity", "estimand_scale", "horizon"]


@dataclass(frozen=True)
class Estimand:
    """One estimand: ``quantity`` on ``scale`` at ``horizon`` (months from the first start,
    the start month being 1; only for ``difference``). :attr:`name` is the published string.
    """

    quantity: str
    scale: str = "link"
    horizon: int | None = None

    def __post_init__(self):
        if self.quantity not in SCALES_OF:
            raise ValueError(f"estimand quantity {self.quantity!r} is not one of "
                             f"{', '.join(SCALES_OF)}")
        if self.scale not in SCALES_OF[self.quantity]:
            raise ValueError(f"{self.quantity} is on the scale "
                             f"{' or '.join(SCALES_OF[self.quantity])}, not {self.scale!r}")
        needs = self.quantity == "difference"
        if needs != (self.horizon is not None) or (needs and (
                isinstance(self.horizon, bool) or not isinstance(self.horizon, int)
                or self.horizon < 1)):
            raise ValueError(f"{self.quantity}: horizon must be "
                             + ("a whole number of months >= 1" if needs else "None")
                             + f", not {self.horizon!r}")

    @property
    def name(self) -> str:
        """The estimand's name in the effects table (``level_change_or``, ``abs_diff_h12``)."""
        if self.quantity in COEFFICIENTS:
            return self.quantity + RATIO_SUFFIX.get(self.scale, "")
        if self.quantity == "difference":
            return f"{self.scale[:3]}_diff_h{self.horizon}"
        if self.quantity == "average_effect":
            return "average_effect" if self.scale == "absolute" else "average_rel_effect"
        return self.quantity

    @property
    def is_ratio(self) -> bool:
        """A natural-scale twin (odds or rate ratio): intervals are read against 1, not 0."""
        return self.scale in RATIO_SCALES

    def on(self, scale: str) -> Estimand:
        """The same quantity and horizon on another scale (e.g. a coefficient's ratio twin)."""
        return replace(self, scale=scale)

    def columns(self) -> dict:
        """The key as the effects table's columns (:data:`KEY_COLUMNS`)."""
        return {"quantity": self.quantity, "estimand_scale": self.scale,
                "horizon": self.horizon}


def row_key(row) -> Estimand:
    """The key of an effects-table row (a Series or a dict with the :data:`KEY_COLUMNS`; a
    missing horizon may be None, NaN or pandas' NA)."""
    horizon = row["horizon"]
    return Estimand(row["quantity"], row["estimand_scale"],
                    None if horizon is None or pd.isna(horizon) else int(horizon))


def horizons_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (changed in place) with its ``horizon`` column as floats, NaN where there is
    none: what pandas makes of a column of ints and None, here also when every value is None
    (docs/adr/0150)."""
    if "horizon" in frame.columns and frame["horizon"].dtype == object:
        frame["horizon"] = pd.to_numeric(frame["horizon"], errors="raise").astype(float)
    return frame


__all__ = ["COEFFICIENTS", "CONTRASTS", "Estimand", "KEY_COLUMNS", "RATIO_SCALES",
           "horizons_as_floats", "row_key"]
