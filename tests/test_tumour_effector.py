"""Seed-000 tumour-effector model: equilibria, invasion threshold, u_min, bistability (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.analysis import basin_map, find_equilibria, jacobian
from tumorjax.ode import (
    invasion_exponent, killing, killing_slope_at_zero, minimum_dose, peak_stimulation,
    tumour_reproduction_number,
)

# dT/dt = rT(1-T/K) - kappa*T*E, dE/dt = s + alpha*T*E - delta*E  (seed 000)
SIMPLE = tj.TumourEffector(growth="logistic", killing="mass_action", proliferation="mass_action")
P = SIMPLE.default_params().replace(r=0.3, K=1e9, kappa=1e-7, alpha=1e-10, eps=0.0, s=1e4, delta=0.1)
R_CRIT = 1e-7 * 1e4 / 0.1  # kappa*s/delta = 0.01


def _tumour_free(eqs):
    (e,) = [e for e in eqs if e.state[0] == 0.0]
    return e


@pytest.mark.parametrize("r", [R_CRIT * (1 - 1e-6), R_CRIT * (1 + 1e-6), 0.3])
def test_tumour_free_equilibrium_and_its_eigenvalues(r):
    p = P.replace(r=r)
    e = _tumour_free(find_equilibria(SIMPLE, p))
    np.testing.assert_allclose(e.state, [0.0, 1e4 / 0.1], rtol=1e-12)
    eigs = np.sort(e.eigenvalues.real)
    np.testing.assert_allclose(eigs, np.sort([r - R_CRIT, -0.1]), rtol=1e-9, atol=1e-15)
    assert e.stable == (r < R_CRIT)  # flips exactly at r = kappa*s/delta
    assert np.isclose(invasion_exponent(SIMPLE, p), r - R_CRIT, rtol=1e-12, atol=1e-17)
    assert (tumour_reproduction_number(SIMPLE, p) > 1) == (r > R_CRIT)


@pytest.mark.parametrize("r, exists", [(R_CRIT * 0.9, False), (R_CRIT * 1.1, True), (0.3, True)])
def test_coexistence_only_above_the_invasion_threshold(r, exists):
    eqs = find_equilibria(SIMPLE, P.replace(r=r))
    interior = [e for e in eqs if e.state[0] > 0 and e.state[1] > 0]
    assert bool(interior) == exists
    for e in interior:  # on the nullclines E = r(1 - T/K)/kappa, E = s/(delta - alpha T)
        T, E = e.state
        np.testing.assert_allclose(E, r * (1 - T / 1e9) / 1e-7, rtol=1e-9)
        np.testing.assert_allclose(E, 1e4 / (0.1 - 1e-10 * T), rtol=1e-9)


def test_minimum_dose_michaelis_menten():
    model = tj.TumourEffector(killing="michaelis_menten", proliferation="saturating")
    p = model.default_params().replace(r=0.2, K=1e9, k=1.0, theta=1e7, alpha=0.05, eps=1e-10, s=1e4, delta=0.1)
    u_min = float(minimum_dose(model, p))
    np.testing.assert_allclose(u_min, max(0.0, 0.2 * 1e7 * 0.1 / 1.0 - 1e4), rtol=1e-14)
    for factor, stable in [(1 + 1e-4, True), (1 - 1e-4, False)]:
        e = _tumour_free(find_equilibria(model, p.replace(u=factor * u_min)))
        np.testing.assert_allclose(e.state[1], (1e4 + factor * u_min) / 0.1, rtol=1e-12)
        assert e.stable is stable
    # gradient of u_min in r is theta*delta/k
    g = jax.grad(lambda r: minimum_dose(model, p.replace(r=r)))(0.2)
    np.testing.assert_allclose(g, 1e7 * 0.1 / 1.0, rtol=1e-12)
    assert float(minimum_dose(model, p.replace(r=1e-4))) == 0.0  # already controlled


def test_minimum_dose_with_self_limitation_stabilises():
    model = tj.TumourEffector(killing="mass_action", proliferation="mass_action")
    p = P.replace(gamma=1e-8, alpha=0.0)
    u_min = float(minimum_dose(model, p))
    for factor, stable in [(1 + 1e-4, True), (1 - 1e-4, False)]:
        J = jacobian(model, p.replace(u=factor * u_min), _tumour_free(find_equilibria(model, p.replace(u=factor * u_min))).state)
        assert bool(np.all(np.linalg.eigvals(np.asarray(J)).real < 0)) is stable


def test_functional_responses():
    T = jnp.array([0.0, 1e6, 1e7, 1e9])
    np.testing.assert_allclose(killing("mass_action", T, 2.0, 0, 0, 0), 2.0 * T)
    np.testing.assert_allclose(killing("michaelis_menten", T, 0, 3.0, 1e7, 0), 3.0 * T / (1e7 + T))
    np.testing.assert_allclose(killing("hill", T, 0, 3.0, 1e7, 2.0), 3.0 * T**2 / (1e14 + T**2))
    np.testing.assert_allclose(killing("hill", 1e7, 0, 3.0, 1e7, 3.0), 1.5)  # half-saturation
    for kind, m in [("mass_action", 2.0), ("michaelis_menten", 2.0), ("hill", 1.0), ("hill", 2.0)]:
        slope = jax.grad(lambda x: killing(kind, x, 2e-7, 3.0, 1e7, m))(1e-30 if kind == "hill" else 0.0)
        np.testing.assert_allclose(killing_slope_at_zero(kind, 2e-7, 3.0, 1e7, m), slope, rtol=1e-9, atol=1e-30)


def test_biphasic_effector_growth_peak():
    model = tj.TumourEffector()
    p = model.default_params()
    T = np.geomspace(1e5, 1e9, 200_001)
    g = np.asarray(model.effector_growth_rate(jnp.asarray(T), 0.0, p))
    np.testing.assert_allclose(float(peak_stimulation(p)), T[np.argmax(g)], rtol=1e-4)
    assert g[0] < g.max() and g[-1] < 0  # rises, then exhaustion wins


def test_kuznetsov_bistability_and_basins():
    model = tj.TumourEffector()
    p = model.default_params()
    eqs = find_equilibria(model, p)
    stable = [e for e in eqs if e.stable]
    assert len(stable) == 2
    # Kuznetsov et al. (1994): dormant state y = 8.19, escape y = 447 (units of 1e6 cells)
    np.testing.assert_allclose(stable[0].state[0] / 1e6, 8.19, rtol=1e-3)
    np.testing.assert_allclose(stable[1].state[0] / 1e6, 447.0, rtol=1e-3)
    assert stable[0].kind == "stable focus" and stable[1].kind == "stable node"
    assert [e.kind for e in eqs if not e.stable] == ["saddle", "saddle"]
    basins = basin_map(model, p, (1e5, 5e8), (1e4, 1e7), n=(8, 8), t_end=3000.0)
    frac = basins.fractions()
    assert frac[0] > 0 and frac[1] > 0, frac  # both outcomes occur
    assert frac[2] == 0, "every grid point reached an attractor"


def test_time_dependent_infusion_matches_closed_form():
    # Without tumour, dE/dt = s + u(t) - delta*E is linear: E = E0 + (u/delta)(1 - exp(-delta t)), then decays.
    u, t_off, delta = 5e4, 30.0, 0.1
    model = tj.TumourEffector(infusion=tj.PiecewiseConstant([0.0, t_off], [u, 0.0]))
    p = model.default_params().replace(delta=delta, s=1e4)
    E0 = 1e4 / delta
    ts = jnp.array([0.0, 10.0, 30.0, 50.0])
    sol = tj.simulate(model, p, [0.0, E0], (0.0, 50.0), ts=ts, rtol=1e-12, atol=1e-9)
    E_off = E0 + u / delta * (1 - np.exp(-delta * t_off))
    exact = [E0, E0 + u / delta * (1 - np.exp(-1.0)), E_off, E0 + (E_off - E0) * np.exp(-delta * 20.0)]
    np.testing.assert_allclose(sol["E"], exact, rtol=1e-10)

    def final_E(values):
        m = tj.TumourEffector(infusion=tj.PiecewiseConstant(jnp.array([0.0, t_off]), values))
        return tj.simulate(m, p, [0.0, E0], (0.0, 50.0), n_save=2, rtol=1e-12, atol=1e-9).ys[-1, 1]

    g = jax.grad(final_E)(jnp.array([u, 0.0]))
    dE_du = (1 - np.exp(-delta * t_off)) / delta * np.exp(-delta * 20.0)
    np.testing.assert_allclose(g, [dE_du, (1 - np.exp(-delta * 20.0)) / delta], rtol=1e-8)


def test_infusion_in_float32_and_negative_rates():
    # the closed form above in float32: the switch times are cast to the solve's precision
    u, t_off, delta = 5e4, 30.0, 0.1
    model = tj.TumourEffector(infusion=tj.PiecewiseConstant([0.0, t_off], [u, 0.0]))
    p = model.default_params().replace(delta=delta, s=1e4)
    E0 = 1e4 / delta
    sol = tj.simulate(model, p, [0.0, E0], (0.0, 50.0), ts=[10.0, 50.0], dtype="float32")
    E_off = E0 + u / delta * (1 - np.exp(-delta * t_off))
    assert sol.ok and sol.ys.dtype == jnp.float32
    np.testing.assert_allclose(sol["E"], [E0 + u / delta * (1 - np.exp(-1.0)),
                                          E0 + (E_off - E0) * np.exp(-delta * 20.0)], rtol=1e-4)
    with pytest.raises(ValueError, match=r"infusion rates must be >= 0 \[cells/day\], got values \[-1.e\+09"):
        tj.TumourEffector(infusion=tj.PiecewiseConstant([0.0, 1.0], [-1e9, 0.0]))


def test_cytokine_model_tumour_free_eigenvalues():
    model = tj.CytokineModel()
    p = model.default_params()
    eqs = find_equilibria(model, p)
    e = _tumour_free(eqs)
    np.testing.assert_allclose(e.state, [0.0, p.s / p.delta, 0.0], rtol=1e-12)
    np.testing.assert_allclose(np.sort(e.eigenvalues.real),
                               np.sort([p.r - p.kappa * p.s / p.delta, -p.delta, -p.gamma_I]), rtol=1e-10)
    for e in eqs:
        assert e.residual < 1e-6 * float(p.s)
