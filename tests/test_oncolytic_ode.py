"""Seed 004, ODE (3.1): closed-form equilibria and eigenvalues, stability flips, Hopf points,
and the reference Octave ode45 time series (float64)."""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.analysis import find_equilibria, jacobian
from tumorjax.oncolytic import (
    OncolyticODE, OncolyticODEParams, OncolyticParams, hopf_test, ode_equilibria, ode_hopf_point,
    ode_trivial_eigenvalues,
)

MODEL = OncolyticODE()


def _eigs(p, y):
    return np.linalg.eigvals(np.asarray(jacobian(MODEL, p, jnp.asarray(y))))


def _read_equilibria(shared):
    with open(shared / "reference/ov/ode/ode31_equilibria.csv") as f:
        return list(csv.DictReader(f))


def test_alpha_default_is_pi_r2_alpha_z():
    assert float(OncolyticODEParams().alpha) == pytest.approx(float(OncolyticParams().to_ode(5.0).alpha), rel=1e-15)
    assert float(OncolyticParams().to_ode(5.0).alpha) == pytest.approx(2.9452431e-3, rel=1e-8)


@pytest.mark.parametrize("zeta", [0.5, 5.0])
def test_closed_form_equilibria_are_roots_and_newton_finds_them(zeta):
    p = OncolyticODEParams(zeta=zeta)
    closed = ode_equilibria(p)
    for name, y in closed.items():
        residual = MODEL.vector_field(0.0, y, p)
        assert np.max(np.abs(np.asarray(residual))) < 1e-10 * float(p.K) * float(p.p), name
    found = find_equilibria(MODEL, p)
    assert len(found) == 3
    for y in closed.values():
        match = min(found, key=lambda e: np.max(np.abs(e.state - np.asarray(y))))
        np.testing.assert_allclose(match.state, np.asarray(y), rtol=1e-10, atol=1e-10 * float(p.K))


def test_equilibria_and_eigenvalues_match_reference(shared):
    for row in _read_equilibria(shared):
        p = OncolyticODEParams(q=float(row["q_per_h"]), zeta=float(row["zeta_per_h"]), alpha=float(row["alpha_per_h"]))
        y = np.asarray(ode_equilibria(p)[row["equilibrium"]])
        ref = np.array([float(row[k]) for k in "uiz"])
        np.testing.assert_allclose(y, ref, rtol=1e-7, atol=1e-6)  # the CSV prints 8 significant digits
        ref_eigs = np.array([complex(float(row[f"eig{k}_re"]), float(row[f"eig{k}_im"])) for k in (1, 2, 3)])
        ours = _eigs(p, y)
        # eigenvalues are printed with 6 significant digits
        np.testing.assert_allclose(np.sort_complex(ours), np.sort_complex(ref_eigs), rtol=5e-6, atol=1e-12)


@pytest.mark.parametrize("zeta", [0.5, 5.0])
def test_trivial_eigenvalues_closed_form(zeta):
    p = OncolyticODEParams(zeta=zeta)
    eq = ode_equilibria(p)
    for name, lam in ode_trivial_eigenvalues(p).items():
        np.testing.assert_allclose(np.sort(_eigs(p, eq[name]).real), np.sort(np.asarray(lam)), rtol=1e-12, atol=1e-15)


def test_tumour_free_stability_flips_at_K_p_qz_equals_S0_zeta():
    p = OncolyticODEParams()
    zeta_c = float(p.K * p.p * p.q_z / p.S0)  # K p q_z = S0 zeta
    for factor, stable in ((0.99, False), (1.01, True)):
        q = p.replace(zeta=factor * zeta_c)
        eigs = _eigs(q, ode_equilibria(q)["tumour_free"])
        assert (np.max(eigs.real) < 0) == stable
        # ... which is where the infection-free uninfected density K - zeta S0/(p q_z) changes sign
        assert (float(ode_equilibria(q)["infection_free"][0]) < 0) == stable


def test_infection_free_loses_stability_where_coexistence_appears():
    """The third eigenvalue at the infection-free state changes sign exactly where i* = 0 (transcritical in beta)."""
    p = OncolyticODEParams()
    third = lambda beta: float(ode_trivial_eigenvalues(p.replace(beta=beta))["infection_free"][2])
    i_star = lambda beta: float(ode_equilibria(p.replace(beta=beta))["coexistence"][1])
    lo, hi = 0.005, 0.1
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if third(mid) < 0 else (lo, mid)
    assert abs(i_star(lo)) < 1e-9 * float(p.K)
    assert i_star(0.9 * lo) < 0 < i_star(1.1 * lo)


@pytest.mark.parametrize("name, bracket, expected, rel", [
    ("zeta", (0.05, 0.5), 0.387, 2e-3),         # reference README: zeta_H = 0.387 (q = 8.34e-3)
    ("alpha", (1e-4, 2.9e-3), 2.286e-3, 5e-4),  # reference README: alpha_H = 2.286e-3 (zeta = 0.5)
    ("beta", (0.03, 0.5), None, None),
])
def test_hopf_points_where_eigenvalues_cross(name, bracket, expected, rel):
    p = OncolyticODEParams()
    v = float(ode_hopf_point(p, name, bracket))
    if expected is not None:
        assert v == pytest.approx(expected, rel=rel)
    re = [np.max(_eigs(q, ode_equilibria(q)["coexistence"]).real) for q in (p.replace(**{name: v * (1 - 1e-3)}),
                                                                           p.replace(**{name: v * (1 + 1e-3)}))]
    assert re[0] * re[1] < 0  # a complex pair crosses the imaginary axis
    at = _eigs(p.replace(**{name: v}), ode_equilibria(p.replace(**{name: v}))["coexistence"])
    pair = at[np.argsort(-np.abs(at.imag))[:2]]
    assert np.max(np.abs(pair.real)) < 1e-9 and np.min(np.abs(pair.imag)) > 1e-3


def test_hopf_point_errors():
    p = OncolyticODEParams()
    with pytest.raises(ValueError, match="no parameter 'gamma'"):
        ode_hopf_point(p, "gamma", (0.1, 1.0))
    with pytest.raises(ValueError, match="must change sign"):
        ode_hopf_point(p, "zeta", (0.4, 0.5))


def test_bad_parameters_rejected():
    with pytest.raises(ValueError, match="zeta"):
        OncolyticODEParams(zeta=-1.0)
    with pytest.raises(ValueError, match="K"):
        OncolyticParams(K=0.0)


@pytest.mark.parametrize("zeta, tol", [(0.5, 1e-5), (5.0, 1e-3)])
def test_time_series_match_octave_ode45(shared, zeta, tol):
    """Reference: Octave ode45 RelTol 1e-11 with q = 8.34e-3; its own cross-check against DOP853 is
    8e-7 (zeta 0.5) and 5.5e-4 cells/mm^2 (zeta 5, where i falls to 6e-7 and the path is sensitive)."""
    ref = np.loadtxt(shared / f"reference/ov/ode/ode31_octave_q8.34e-3_zeta{zeta}.csv", delimiter=",", skiprows=1)
    sol = tj.simulate(MODEL, OncolyticODEParams(zeta=zeta), ref[0, 1:], (0.0, 3000.0), ts=ref[:, 0],
                      rtol=1e-11, atol=1e-9, max_steps=100_000)
    assert sol.ok
    assert np.max(np.abs(np.asarray(sol.ys) - ref[:, 1:])) < tol


def test_vmap_over_zeta_and_gradient_of_hopf_test_and_solution():
    p = OncolyticODEParams()
    zetas = jnp.linspace(0.2, 0.6, 5)
    h = jax.vmap(lambda z: hopf_test(p.replace(zeta=z)))(zetas)
    assert np.all(np.diff(np.sign(np.asarray(h))) <= 0) and h[0] > 0 > h[-1]

    def final_u(zeta):
        return tj.simulate(MODEL, p.replace(zeta=zeta), jnp.array([9000.0, 1000.0, 0.0]), (0.0, 200.0),
                           rtol=1e-10, atol=1e-8).ys[-1, 0]

    g = jax.grad(final_u)(0.5)
    fd = (final_u(0.5 + 1e-5) - final_u(0.5 - 1e-5)) / 2e-5
    assert float(g) == pytest.approx(float(fd), rel=1e-5)
