"""Characteristic roots and the delay-induced Hopf bifurcation of seed 000, checked against
closed forms, the ODE Jacobian and vmapped simulations (float64)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tumorjax.analysis import find_equilibria, oscillation_metrics
from tumorjax.dde import (
    DelayedTumourEffector, Hutchinson, characteristic_function, characteristic_roots, critical_delay,
    delay_equilibrium, delay_jacobians, hopf_closed_form, hopf_quadratic, hopf_scalar, quadratic_coefficients,
)
from tumorjax.numerics import solve_dde
from tumorjax.ode import TumourEffector


def sweep(model, params, taus, histories, t_end, t_min, n_save, steps_per_delay, state=0):
    """Oscillation metrics of one state for every (tau, constant history) pair: one vmapped solve."""
    n_intervals = math.ceil(t_end / float(np.min(taus)) - 1e-9)

    def one(tau, history):
        sol = solve_dde(model, params.replace(tau=tau), history, (0.0, t_end), n_save=n_save,
                        steps_per_delay=steps_per_delay, n_intervals=n_intervals)
        return oscillation_metrics(sol.ts, sol.ys[:, state], t_min), sol.ys[-1], sol.status

    metrics, final, status = jax.jit(jax.vmap(one))(jnp.asarray(taus), jnp.asarray(histories))
    assert np.all(np.asarray(status) == 0)
    return {k: np.asarray(v) for k, v in metrics.items()}, np.asarray(final)


def envelope_rate(growth, t_end, t_min):
    """Growth rate sigma of the oscillation envelope: `growth` is the ratio of the ranges over
    the two halves of the window, whose centres lie (t_end - t_min)/2 apart, so
    growth ~ exp(sigma * (t_end - t_min)/2). Started from a tiny perturbation, the solution
    stays linear and sigma estimates Re of the rightmost characteristic root."""
    return np.log(growth) / ((t_end - t_min) / 2)


def onset(taus, sigma):
    """The delay where sigma(tau) changes sign, by linear interpolation between the bracketing
    grid points. Requires sigma increasing through exactly one sign change on the grid."""
    assert np.all(np.diff(sigma) > 0), sigma
    i = int(np.argmax(sigma > 0))
    assert i > 0 and np.all(sigma[:i] < 0) and np.all(sigma[i:] > 0), sigma
    return taus[i - 1] - sigma[i - 1] * (taus[i] - taus[i - 1]) / (sigma[i] - sigma[i - 1])


# -- closed forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("r", [0.5, 1.0, 2.0])
def test_hutchinson_closed_form(r):
    model = Hutchinson()
    p = model.default_params().replace(r=r, K=3.0)
    A0, A1 = delay_jacobians(model, p, jnp.array([3.0]))
    np.testing.assert_allclose([float(A0[0, 0]), float(A1[0, 0])], [0.0, -r], atol=1e-15)  # a = 0, b = r
    for h in (hopf_closed_form(A0, A1), hopf_scalar(0.0, r), critical_delay(A0, A1)):
        assert bool(h.exists) and float(h.direction) > 0
        np.testing.assert_allclose([float(h.tau), float(h.omega)], [np.pi / (2 * r), r], rtol=1e-12)
    # Re dlambda/dtau = r^2 / (1 + pi^2/4) at lambda = i r, tau = pi/(2r)
    np.testing.assert_allclose(float(hopf_scalar(0.0, r).direction), r**2 / (1 + np.pi**2 / 4), rtol=1e-12)


def test_no_crossing_is_flagged():
    h = hopf_scalar(2.0, 1.0)  # |b| < |a|: the delayed feedback cannot destabilise
    assert not bool(h.exists) and np.isnan(float(h.tau)) and np.isnan(float(h.omega))
    h = hopf_quadratic(1.0, 0.3, 0.2)  # |c| < |q| and p^2 - 2q > 0: no positive omega^2
    assert not bool(h.exists) and np.isnan(float(h.tau))
    A0, A1 = jnp.array([[0.0, 1.0], [-0.3, -1.0]]), jnp.array([[0.0, 0.0], [-0.2, 0.0]])
    assert not bool(critical_delay(A0, A1).exists)
    with pytest.raises(ValueError, match="rank one"):
        quadratic_coefficients(A0, jnp.eye(2))


@pytest.mark.parametrize("p, q, c", [(0.25, 0.015, 0.105), (1.0, 0.5, -2.0), (0.1, 1.0, 0.5),
                                     (0.5, -0.1, 0.3)])
def test_quadratic_closed_form_matches_newton(p, q, c):
    """lambda^2 + p lambda + q + c e^{-lambda tau} from a companion matrix A0 and A1 = [[0, 0], [-c, 0]];
    (0.1, 1, 0.5) has two positive omega^2 (stability switches), the first crossing is destabilising."""
    A0, A1 = jnp.array([[0.0, 1.0], [-q, -p]]), jnp.array([[0.0, 0.0], [-c, 0.0]])
    np.testing.assert_allclose([float(x) for x in quadratic_coefficients(A0, A1)], [p, q, c], rtol=1e-15)
    closed, newton = hopf_quadratic(p, q, c), critical_delay(A0, A1)
    assert bool(closed.exists) and bool(newton.exists)
    np.testing.assert_allclose([float(newton.tau), float(newton.omega), float(newton.direction)],
                               [float(closed.tau), float(closed.omega), float(closed.direction)], rtol=1e-10)
    w, tau = float(closed.omega), float(closed.tau)
    assert abs(complex(characteristic_function(A0, A1, 1j * w, tau))) < 1e-12
    if q + c > 0 and p > 0:  # stable at tau = 0, so the first crossing destabilises
        assert float(closed.direction) > 0


# -- the tumour-effector DDE: closed form, root finder, ODE limit ------------------------------


@pytest.fixture(scope="module")
def te():
    model = DelayedTumourEffector()
    params = model.default_params()
    y = delay_equilibrium(model, params, jnp.array([0.5, 0.5]))
    A0, A1 = delay_jacobians(model, params, y)
    return model, params, y, A0, A1, hopf_closed_form(A0, A1)


def test_tumour_effector_defaults_have_a_hopf(te):
    model, params, y, A0, A1, h = te
    np.testing.assert_allclose(np.asarray(y), [0.3, 0.35], rtol=1e-12)
    assert np.max(np.abs(np.asarray(model.vector_field(0.0, y, y[None], params)))) < 1e-15
    assert bool(h.exists) and 1.0 < float(h.tau) < 20.0 and float(h.direction) > 0
    assert float(h.tau) < float(params.tau)  # the default delay oscillates
    general = critical_delay(A0, A1)
    np.testing.assert_allclose([float(general.tau), float(general.omega), float(general.direction)],
                               [float(h.tau), float(h.omega), float(h.direction)], rtol=1e-8)
    np.testing.assert_allclose([float(h.tau), float(h.omega)], [2.6476, 0.29822], rtol=2e-5)  # as documented


def test_critical_delay_is_differentiable(te):
    """d tau*/d r through the equilibrium, the Jacobians and either method, against a central difference."""
    model, params, y, _, _, _ = te

    def tau_star(r, method):
        p = params.replace(r=r)
        A0, A1 = delay_jacobians(model, p, delay_equilibrium(model, p, y))
        return method(A0, A1).tau

    r = float(params.r)
    closed = jax.jit(lambda r: tau_star(r, hopf_closed_form))
    fd = (closed(r + 1e-6) - closed(r - 1e-6)) / 2e-6
    g_closed = jax.jit(jax.grad(closed))(r)
    g_newton = jax.jit(jax.grad(lambda r: tau_star(r, critical_delay)))(r)
    assert float(fd) < -1.0  # faster tumour growth, earlier onset
    np.testing.assert_allclose(float(g_closed), float(fd), rtol=1e-6)
    np.testing.assert_allclose(float(g_newton), float(g_closed), rtol=1e-8)


def test_rightmost_roots_cross_at_tau_star(te):
    _, _, _, A0, A1, h = te
    tau_s, w = float(h.tau), float(h.omega)
    factors = np.array([0.5, 0.9, 0.99, 0.999, 1.0, 1.001, 1.01, 1.1, 1.5])
    roots = np.asarray(characteristic_roots(A0, A1, tau_s * factors))
    lead = roots[:, 0]
    assert np.all(np.isfinite(lead))
    re = lead.real
    assert np.all(re[factors < 1] < 0) and np.all(re[factors > 1] > 0) and abs(re[factors == 1][0]) < 1e-12
    assert np.all(np.diff(re) > 0)
    np.testing.assert_allclose(abs(lead[factors == 1][0].imag), w, rtol=1e-12)
    # the rightmost pair is a conjugate pair, and each root solves Delta = 0
    np.testing.assert_allclose(roots[:, 1], np.conj(roots[:, 0]), rtol=1e-12)
    for tau, z in zip(tau_s * factors, roots):
        z = z[np.isfinite(z)]
        assert np.max(np.abs(np.asarray(characteristic_function(A0, A1, z, tau)))) < 1e-12
    # the crossing delay as the zero of Re lambda_max(tau): secant iteration from 0.9 and 1.1 tau*
    t0, t1 = tau_s * 0.9, tau_s * 1.1
    s0, s1 = re[factors == 0.9][0], re[factors == 1.1][0]
    for _ in range(8):
        t0, t1 = t1, t1 - s1 * (t1 - t0) / (s1 - s0)
        s0, s1 = s1, float(np.asarray(characteristic_roots(A0, A1, jnp.array([t1]), n_roots=1))[0, 0].real)
        if abs(s1) < 1e-14:
            break
    np.testing.assert_allclose(t1, tau_s, rtol=1e-10)
    # the roots are differentiable (implicit function): d Re lambda / d tau at tau* is the crossing speed
    speed = jax.grad(lambda t: jnp.real(characteristic_roots(A0, A1, t[None], n_roots=1)[0, 0]))(h.tau)
    np.testing.assert_allclose(float(speed), float(h.direction), rtol=1e-10)


def test_roots_at_zero_delay_are_the_ode_eigenvalues(te):
    model, params, y, A0, A1, _ = te
    ode = TumourEffector(growth="logistic", killing="mass_action", proliferation="mass_action")
    op = ode.default_params().replace(r=params.r, K=params.K, kappa=params.kappa, alpha=params.gamma,
                                      eps=params.eps, s=params.s, delta=params.delta, gamma=0.0, u=0.0)
    eqs = [e for e in find_equilibria(ode, op) if np.all(e.state > 1e-9)]
    assert len(eqs) == 1 and eqs[0].stable
    np.testing.assert_allclose(eqs[0].state, np.asarray(y), rtol=1e-10)
    roots = np.asarray(characteristic_roots(A0, A1, jnp.array([0.0]), n_roots=4))[0]
    roots = roots[np.isfinite(roots)]
    assert roots.shape == (2,)  # a polynomial of degree 2 at tau = 0
    key = lambda z: (z.real, z.imag)  # noqa: E731
    np.testing.assert_allclose(sorted(roots, key=key), sorted(eqs[0].eigenvalues, key=key),
                               rtol=1e-12, atol=1e-14)


# -- onset from simulations -------------------------------------------------------------------


def test_hutchinson_onset_from_simulation():
    """N' = N(1 - N(t - tau)) (r = K = 1): envelope growth rate from N(t <= 0) = 1 + 1e-7 on the
    tau grid 1.40, 1.45, ..., 1.75 (chosen without reference to pi/2, which falls between 1.55
    and 1.60; the perturbation stays below 1e-3, linear, up to t = 200), and two O(1)
    perturbations at 0.8 and 1.2 pi/2."""
    model = Hutchinson()
    params = model.default_params()
    tau_star = float(hopf_closed_form(*delay_jacobians(model, params, jnp.array([1.0]))).tau)
    taus_lin = np.linspace(1.4, 1.75, 8)
    n = len(taus_lin)
    taus = np.concatenate([taus_lin, tau_star * np.array([0.8, 1.2])])
    hist = np.concatenate([np.full((n, 1), 1 + 1e-7), np.full((2, 1), 0.5)])
    t_end, t_min = 200.0, 40.0
    m, final = sweep(model, params, taus, hist, t_end, t_min, n_save=1001, steps_per_delay=8)

    sigma = envelope_rate(m["growth"][:n], t_end, t_min)
    assert sigma[0] < -0.02 and sigma[-1] > 0.02  # clearly damped below, clearly growing above
    tau_sim = onset(taus_lin, sigma)
    assert abs(tau_sim / tau_star - 1) < 0.01, (tau_sim, tau_star)
    # linear regime: sigma matches Re lambda of the rightmost root
    A0, A1 = delay_jacobians(model, params, jnp.array([1.0]))
    re = np.asarray(characteristic_roots(A0, A1, taus_lin, n_roots=1))[:, 0].real
    np.testing.assert_allclose(sigma, re, atol=2e-3)
    # period just above onset (linear regime, tau = 1.6 = 1.019 pi/2) against 4 tau
    i = 4
    assert abs(m["period"][i] / (4 * taus_lin[i]) - 1) < 0.03, m["period"][i] / (4 * taus_lin[i])
    # O(1) perturbation: damped to N = 1 at 0.8 tau*, a limit cycle at 1.2 tau*
    assert m["growth"][n] < 1e-2 and abs(final[n, 0] - 1) < 1e-3
    assert abs(m["growth"][n + 1] - 1) < 1e-3 and m["amplitude"][n + 1] > 0.2


def test_tumour_effector_onset_from_simulation(te):
    """Envelope growth rate of T from (T*, E*)(1 + 1e-7, 1) on the tau grid 2.3, 2.4, ..., 3.0 days
    (tau* = 2.648 falls between 2.6 and 2.7; the perturbation stays linear up to t = 800), and
    the history (0.5, 0.5) at 0.8 tau* (damped to the equilibrium) and 1.2 tau* (a limit cycle)."""
    model, params, y, A0, A1, h = te
    tau_star = float(h.tau)
    taus_lin = np.linspace(2.3, 3.0, 8)
    n = len(taus_lin)
    taus = np.concatenate([taus_lin, tau_star * np.array([0.8, 1.2])])
    y = np.asarray(y)
    hist = np.concatenate([np.tile(y * [1 + 1e-7, 1.0], (n, 1)), np.full((2, 2), 0.5)])
    t_end, t_min = 800.0, 150.0
    m, final = sweep(model, params, taus, hist, t_end, t_min, n_save=1601, steps_per_delay=8)

    sigma = envelope_rate(m["growth"][:n], t_end, t_min)
    assert sigma[0] < -0.002 and sigma[-1] > 0.002
    tau_sim = onset(taus_lin, sigma)
    assert abs(tau_sim / tau_star - 1) < 0.02, (tau_sim, tau_star)
    re = np.asarray(characteristic_roots(A0, A1, taus_lin, n_roots=1))[:, 0].real
    np.testing.assert_allclose(sigma, re, atol=3e-4)
    # period just above onset (tau = 2.7) against 2 pi / Im lambda of the rightmost root
    i = 4
    lead = np.asarray(characteristic_roots(A0, A1, taus_lin[i:i + 1], n_roots=1))[0, 0]
    period = 2 * np.pi / abs(lead.imag)
    assert abs(m["period"][i] / period - 1) < 0.01, (m["period"][i], period)
    assert m["growth"][n] < 1e-2 and np.max(np.abs(final[n] - y)) < 1e-4
    assert abs(m["growth"][n + 1] - 1) < 1e-2 and m["amplitude"][n + 1] > 0.1


# -- gradients through the solver -------------------------------------------------------------


@pytest.mark.parametrize("which", ["hutchinson", "tumour_effector"])
def test_gradient_wrt_delay_and_rate(which):
    if which == "hutchinson":
        model, history, t_end, state = Hutchinson(), jnp.array([0.5]), 20.0, 0
        params = model.default_params().replace(tau=1.2)
    else:
        model, history, t_end, state = DelayedTumourEffector(), jnp.array([0.5, 0.5]), 60.0, 0
        params = model.default_params().replace(tau=2.0)
    n_intervals = math.ceil(t_end / float(params.tau))  # static: tau is traced under grad

    def final(p):
        sol = solve_dde(model, p, history, (0.0, t_end), n_save=3, steps_per_delay=16,
                        n_intervals=n_intervals)
        return sol.ys[-1, state]

    g = jax.jit(jax.grad(final))(params)
    f = jax.jit(final)
    for name in ("tau", "r"):
        x, dx = float(getattr(params, name)), 1e-5 * float(getattr(params, name))
        fd = (f(params.replace(**{name: x + dx})) - f(params.replace(**{name: x - dx}))) / (2 * dx)
        assert abs(float(fd)) > 1e-3  # a real sensitivity, not 0 == 0
        np.testing.assert_allclose(float(getattr(g, name)), float(fd), rtol=1e-6)
