"""Limit cycles by shooting: the Hopf normal form exactly, seed 004's ODE (3.1) against long simulations.

Float64; the Hopf normal form to 1e-8, the seed-004 cycle to 1% of a 40,000 h simulation (it agrees to ~1e-5).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
import tumorjax.analysis._limit_cycles as lc
from tumorjax.analysis import (
    HopfNormalForm, NormalFormParams, SpecialPoint, continuation, cycles_from_hopf, periodic_orbit,
)
from tumorjax.oncolytic import OncolyticODE, OncolyticODEParams, ode_equilibria, ode_hopf_point


def test_hopf_normal_form_cycles_are_exact():
    """r = sqrt(mu - a), T = 2 pi/omega, nontrivial Floquet multiplier exp(-2(mu - a)T)."""
    p = NormalFormParams(a=0.3, omega=2.0)
    model = HopfNormalForm()
    (h,) = continuation(model, p, "mu", [0.1, -0.1], (-1.0, 1.0)).points
    cb = cycles_from_hopf(model, p, "mu", h, (-1.0, 1.0), amplitude=0.01, max_cycles=6)
    assert len(cb.cycles) == 6 and cb.stable.all()
    r = np.sqrt(cb.params - 0.3)
    np.testing.assert_allclose(cb.maximum, np.stack([r, r], 1), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(cb.minimum, -np.stack([r, r], 1), rtol=1e-6)  # 801 samples of the orbit
    np.testing.assert_allclose(cb.periods, np.pi, rtol=1e-9)
    for c in cb.cycles:
        mu = np.sort(np.abs(c.multipliers))
        np.testing.assert_allclose(mu, [np.exp(-2 * (c.param - 0.3) * np.pi), 1.0], rtol=1e-6)
    assert set(cb.columns()) == {"mu", "period", "x_min", "x_max", "y_min", "y_max", "stable"}


def _oncolytic_cycle_at_half():
    """The zeta = 0.5 cycle, continued from the Hopf point (closed-form equilibrium, Routh-Hurwitz bisection)."""
    model, p = OncolyticODE(), OncolyticODEParams()
    zeta_h = float(ode_hopf_point(p, "zeta", (0.3, 0.5)))
    x_h = np.asarray(ode_equilibria(p.replace(zeta=zeta_h))["coexistence"])
    h = SpecialPoint("hopf", zeta_h, x_h, None, 0, True)
    cb = cycles_from_hopf(model, p, "zeta", h, (0.3, 0.6), max_cycles=40)
    near = cb.cycles[int(np.argmin(np.abs(cb.params - 0.5)))]
    return cb, periodic_orbit(model, p, near.state0, near.period, name="zeta")


def test_oncolytic_limit_cycle_against_reference(shared):
    """zeta = 0.5: ../shared/reference/ov/README.md gives u in [630, 3790] and a period of ~485 h, measured on
    Octave ode45 runs (RelTol 1e-11) over t = 30000-40000 h: the long-simulation check, to 1%."""
    cb, cycle = _oncolytic_cycle_at_half()
    assert cb.stable.all() and cb.params.max() > 0.5 and "left [0.3, 0.6]" in cb.message
    assert cycle.param == 0.5 and cycle.stable
    assert (shared / "reference/ov/README.md").read_text().count("u in [630, 3790]") == 1
    assert cycle.minimum[0] == pytest.approx(630, rel=1e-2) and cycle.maximum[0] == pytest.approx(3790, rel=1e-2)
    assert cycle.period == pytest.approx(485, rel=1e-2)
    assert np.all(np.diff(cb.maximum[:, 0] - cb.minimum[:, 0]) > 0)  # the amplitude grows with zeta (Fig. 2b)


@pytest.mark.slow
def test_oncolytic_limit_cycle_against_long_simulation():
    """zeta = 0.5: the cycle's extrema agree with a 40,000 h tumorjax simulation from the Fig. 3 state to 1%
    (in fact ~1e-5; benchmarks/bench_bifurcation.py does this for every cycle of Fig. 2)."""
    _, cycle = _oncolytic_cycle_at_half()
    y0 = {"u": 9000.0, "i": 1000.0, "z": 0.0}
    sol = tj.simulate(OncolyticODE(), OncolyticODEParams(), y0, (0.0, 40000.0), n_save=40001, max_steps=100_000)
    late = np.asarray(sol.ys)[30000:]
    np.testing.assert_allclose(cycle.minimum, late.min(0), rtol=1e-2)
    np.testing.assert_allclose(cycle.maximum, late.max(0), rtol=1e-2)


def test_bad_input():
    model, p = HopfNormalForm(), NormalFormParams(mu=-0.5)
    with pytest.raises(ValueError, match="not a Hopf point"):
        not_hopf = SpecialPoint("hopf", 0.0, np.zeros(1), None, 0, True)
        cycles_from_hopf(tj.analysis.FoldNormalForm(), p, "mu", not_hopf, (-1.0, 1.0))
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\)"):
        periodic_orbit(model, p, jnp.zeros(3), 1.0)
    with pytest.raises(ValueError, match="no periodic orbit found near"):  # zeta < zeta_H: no cycle at all
        periodic_orbit(OncolyticODE(), OncolyticODEParams(zeta=0.2), jnp.array([2500.0, 500.0, 200.0]), 480.0)
    with pytest.raises(ValueError, match="no parameter 'nu'"):
        periodic_orbit(model, p, jnp.array([0.5, 0.0]), 3.0, name="nu")
    with pytest.raises(TypeError, match="HopfNormalForm takes NormalFormParams, got OncolyticODEParams"):
        periodic_orbit(model, OncolyticODEParams(), jnp.array([0.5, 0.0]), 3.0)


def test_second_cycle_retry_shrinks_the_increment(monkeypatch):
    """If the 2 eps cycle fails once, the retry is at 1.5 eps (not eps again): r1/r0 = 1.5 on the normal form."""
    p, model = NormalFormParams(a=0.3, omega=2.0), HopfNormalForm()
    (h,) = continuation(model, p, "mu", [0.1, -0.1], (-1.0, 1.0)).points
    shoot, amplitude, failed = lc._shoot, 0.01, []

    def flaky(*args):
        v, k, ok, M = shoot(*args)
        d = args[9]  # Re conj(w).(xi0 - xi_h) = eps, with xi_h = 0
        if not failed and abs(float(d[1]) - 2 * amplitude) < 1e-12:
            failed.append(True)
            return v, k, jnp.asarray(False), M
        return v, k, ok, M

    monkeypatch.setattr(lc, "_shoot", flaky)
    cb = cycles_from_hopf(model, p, "mu", h, (-1.0, 1.0), amplitude=amplitude, max_cycles=3)
    assert failed and len(cb.cycles) == 3 and np.all(np.diff(cb.params) > 0)
    r = np.sqrt(cb.params - 0.3)
    np.testing.assert_allclose(cb.maximum, np.stack([r, r], 1), rtol=1e-8, atol=1e-9)
    assert r[1] / r[0] == pytest.approx(1.5, rel=1e-6)
