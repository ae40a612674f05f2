"""Fast version of the simulation study (benchmarks/its_simulation.py, 1,000 series per cell).

Same cells, same code, fewer series: 200 per cell (100 for the slower AR and negative binomial
fits) with and without an effect. Bounds are the benchmark's targets widened to about 3 Monte
Carlo SEs at these sizes: coverage 0.90-0.99 (SE 1.5 points at 200), type I error 0.01-0.10,
relative bias under 10% (the level changes are 3-5 SEs, so the Monte Carlo SE of the bias is
1-2% of the truth). The HAC cells (Newey-West and EWC) are pinned as under-covering (the measured result; see
docs/statistics.md section 3).
"""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "its_simulation.py"
spec = importlib.util.spec_from_file_location("its_simulation", PATH)
its_simulation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(its_simulation)

HONEST = [name for name in its_simulation.CELLS if "HAC" not in name]


@pytest.mark.parametrize("name", HONEST)
def test_cell_meets_widened_targets(name):
    n = 100 if ("AR" in name or "negbin" in name) else 200
    r = its_simulation.run_cell(name, n, seed0=50_000)
    assert abs(r["bias"]) < 0.10, r
    lo = 0.88 if n == 100 else 0.90
    assert lo <= r["coverage"] <= 0.99, r
    assert 0.01 <= r["type1"] <= (0.11 if n == 100 else 0.10), r


@pytest.mark.parametrize("name", ["gaussian / HAC, 48 months", "gaussian / HAC (EWC), 48 months"])
def test_hac_short_series_under_covers(name):
    """Measured: Newey-West (with the small-sample correction) and the equal-weighted cosine
    kernel with t_nu intervals both under-cover level changes in 48-month series (85.5% and
    80.2% over 1,000 series) - the documented limitation."""
    r = its_simulation.run_cell(name, 200, seed0=50_000)
    assert abs(r["bias"]) < 0.10
    assert 0.75 <= r["coverage"] < 0.93
