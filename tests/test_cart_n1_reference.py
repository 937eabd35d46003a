"""The reference scheme against the author's solver on the normalised set N1 (`h2_N1_3d_*.csv`; float64).

In N1 nothing is clamped and nothing is chaotic (../shared/reference/cart/README.md), so the scheme
must agree with the C++ summaries to their 10 significant digits. The tests run the first part of
each kind of run (the 3.2 run on 40^3, a 3.3 switching run with T_B(0) > 0, the 3.4 combination
past its second dose at t = 10); `benchmarks/bench_cart_3d.py --n1` compares every run to its end.
"""

import csv
import json

import numpy as np
import pytest

from tumorjax.cart import FIELDS, reference_run_setup, simulate_cart

COLUMNS = [f"{s}_{f}" for s in ("mean", "max") for f in FIELDS]


def _series(path, **match):
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if all(r[k] == v for k, v in match.items())]
    return np.array([float(r["t"]) for r in rows]), np.array([[float(r[c]) for c in COLUMNS] for r in rows])


def _compare(shared, name, csv_name, T, **match):
    runs = json.loads((shared / "reference/cart/h2_params.json").read_text())["runs"]
    setup = reference_run_setup(name, runs[name]).replace(T=T)
    sol = simulate_cart(setup, scheme="reference")
    t_ref, ref = _series(shared / "reference/cart" / csv_name, **match)
    cols = sol.to_columns()
    got = np.stack([cols[c] for c in COLUMNS], 1)
    np.testing.assert_allclose(sol.ts, t_ref[: len(sol.ts)], atol=1e-12)
    scale = np.abs(ref[: len(sol.ts)]).max(0)
    err = np.abs(got - ref[: len(sol.ts)]).max(0) / np.where(scale > 0, scale, 1)
    assert np.all(err < 2e-9), dict(zip(COLUMNS, err))
    return sol


def test_section_3_2_run_on_40_cubed(shared):
    sol = _compare(shared, "N1_32_TBzero_40", "h2_N1_3d_32_TBzero_40.csv", 0.5)
    assert np.all(sol.to_columns()["mean_TB"] == 0)  # mu_0 = nu = 0: T_B stays exactly 0


@pytest.mark.parametrize("switching, frac", [("loss", "0.2")])
def test_section_3_3_switching_run(shared, switching, frac):
    _compare(shared, f"N1_33_{switching}_tb{frac}", "h2_N1_3d_33_20.csv", 2.0, switching=switching,
             tb_frac=frac)


def test_section_3_4_combination_through_the_second_dose(shared):
    sol = _compare(shared, "N1_34_combo_20", "h2_N1_3d_34_20.csv", 10.5, scenario="combination")
    C = sol.to_columns()["mean_C"]
    k = int(np.argmin(np.abs(sol.ts - 10.0)))
    assert C[k] - C[k - 1] > 0.9 * 0.1 * 44 / 8000  # the dose (0.1 on 44 of 8000 nodes) arrived after step 1000
