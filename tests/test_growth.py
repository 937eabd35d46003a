"""Growth laws against their closed forms (float64, rtol 1e-8)."""

import numpy as np
import pytest
from scipy.integrate import quad

import tumorjax as tj

TOL = dict(rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("law, r, K, t_end", [
    ("exponential", 0.3, 1e9, 30.0), ("logistic", 0.3, 1e9, 80.0), ("gompertz", 0.1, 1e9, 80.0),
])
def test_growth_matches_closed_form(law, r, K, t_end):
    model = tj.TumourGrowth(law=law)
    p = tj.GrowthParams(r=r, K=K)
    sol = tj.simulate(model, p, {"T": 1e6}, (0.0, t_end), n_save=41, **TOL)
    assert sol.ok
    exact = model.closed_form(sol.ts, 1e6, p)
    np.testing.assert_allclose(sol["T"], exact, rtol=1e-8)


def test_bertalanffy_b1_matches_closed_form():
    model = tj.BertalanffyGrowth()
    p = tj.BertalanffyParams(p=2.0, q=0.1, a=2 / 3, b=1.0)
    sol = tj.simulate(model, p, {"T": 100.0}, (0.0, 100.0), n_save=41, **TOL)
    np.testing.assert_allclose(sol["T"], model.closed_form(sol.ts, 100.0, p), rtol=1e-8)
    # plateau (p/q)^(1/(b-a))
    T_inf = (2.0 / 0.1) ** 3
    sol = tj.simulate(model, p, {"T": 100.0}, (0.0, 2000.0), n_save=2, **TOL)
    np.testing.assert_allclose(sol.final("T"), T_inf, rtol=1e-8)


def test_bertalanffy_general_b_matches_quadrature():
    # For b != 1 there is no elementary solution; t(T) = int_{T0}^{T} dS / (p S^a - q S^b).
    pa, qb, a, b = 2.0, 0.01, 0.75, 1.5
    model = tj.BertalanffyGrowth()
    p = tj.BertalanffyParams(p=pa, q=qb, a=a, b=b)
    sol = tj.simulate(model, p, {"T": 10.0}, (0.0, 20.0), n_save=11, **TOL)
    for t, T in zip(np.asarray(sol.ts)[1:], np.asarray(sol["T"])[1:]):
        t_quad, _ = quad(lambda S: 1.0 / (pa * S**a - qb * S**b), 10.0, T, epsabs=0, epsrel=1e-13)
        np.testing.assert_allclose(t_quad, t, rtol=1e-8)


def test_closed_form_for_b1_only():
    with pytest.raises(ValueError, match="b = 1"):
        tj.BertalanffyGrowth().closed_form(1.0, 10.0, tj.BertalanffyParams(b=1.5))


def test_unknown_growth_law():
    with pytest.raises(ValueError, match="unknown growth law 'cubic'"):
        tj.TumourGrowth(law="cubic")
