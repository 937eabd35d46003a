"""Seed 004, radial PDE (2.8) and 2-D PDE (2.6): the authors' scheme against the Octave reference, mass
balance, positivity, the inflow integral, Appendix-B front speeds, protocols, gradients, vmap, bad input
and the CLI. All in float64 (tests/conftest.py)."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.integrate import trapezoid

from tumorjax.cli import main
from tumorjax.numerics._finite_volume import (
    diffusive_flux, flux_divergence, implicit_transport, transport_tridiagonal, upwind_flux,
)
from tumorjax.oncolytic import (
    REFERENCE_CODE, Grid2D, OncolyticParams, OVState, Protocol, RadialConfig, RadialSetup, fisher_speed,
    front_speed, icp, initial_condition, solve_2d, solve_radial, stable_step, tcp,
)
from tumorjax.oncolytic import _radial
from tumorjax.oncolytic._pde2d import _transport_2d

P = OncolyticParams()
SMALL = RadialConfig(L=5.0, N=50)
TINY = RadialConfig(L=4.0, N=20, dt=0.04)  # shared by the gradient, vmap and protocol tests (one compile each)


def test_reference_scheme_matches_octave_run_0_3h(shared):
    """The authors' scheme (dr = 0.01, dt = 1e-4, q = 9.34e-3) against their code run in Octave: hourly totals
    and centre values agree to the 10 printed digits (the benchmark extends this to 0-100 h)."""
    ref = np.loadtxt(shared / "reference/ov/pde/octave_weak_central_0-100h_totals.csv", delimiter=",", skiprows=1)
    sol = solve_radial(REFERENCE_CODE, RadialConfig(scheme="reference", dt=1e-4), 3.0)
    assert sol.ok and sol.dt == 1e-4
    ours = np.asarray(sol.series)[:, :8]  # U, I, Z, Phi totals (trapz over centres) and the r0 values
    np.testing.assert_allclose(ours, ref[:4, 1:9], rtol=2e-9, atol=0)
    totals = np.array([0.0, 1e-3, 0.7, 5.0])  # where the Poisson zero-class probability (4.3), (4.5) is informative
    np.testing.assert_allclose(tcp(totals), stats.poisson.pmf(0, totals), rtol=1e-14)
    np.testing.assert_allclose(icp(totals), stats.poisson.pmf(0, totals), rtol=1e-14)


@pytest.mark.parametrize("geometry, scheme", [("radial", "fv"), ("planar", "fv"), ("radial", "reference")])
def test_transport_conserves_mass_to_round_off(geometry, scheme):
    cfg = RadialConfig(L=3.0, N=60, geometry=geometry, scheme=scheme)
    rng = np.random.default_rng(0)
    y = OVState(*(jnp.asarray(rng.uniform(0, s, cfg.N)) for s in (1e4, 1e3, 50.0, 2.9)))
    V = jnp.asarray(cfg.volume) * cfg.dx
    for rate, v in zip(_radial._transport(y, P, cfg), y):
        assert abs(float(jnp.sum(rate * V))) <= 1e-13 * float(jnp.sum(jnp.abs(v) * V)) * 1e2
    # the 2-D transport (same kernels on both axes): zero total rate
    y2 = OVState(*(jnp.asarray(rng.uniform(0, s, (16, 16))) for s in (1e4, 1e3, 50.0, 2.9)))
    for rate, v in zip(_transport_2d(y2, P, 0.2), y2):
        assert abs(float(jnp.sum(rate))) <= 1e-12 * float(jnp.sum(v))
    # implicit diffusion + upwind drift: (I - dt A) is conservative (columns of A sum to zero)
    w = _radial._drift(y.phi, P, cfg)
    z1 = implicit_transport(y.z, *transport_tridiagonal(_radial._z_conductance(P, cfg), w, cfg.dx,
                                                        jnp.asarray(cfg.volume)), 5.0)
    assert float(jnp.sum(z1 * V)) == pytest.approx(float(jnp.sum(y.z * V)), rel=1e-13)
    assert float(jnp.min(z1)) >= 0


def test_flux_kernels_are_shared_and_consistent():
    """Matrix form and flux form of the same operator agree; 2-D uses the same kernels on each axis."""
    rng = np.random.default_rng(1)
    v, w = jnp.asarray(rng.uniform(0, 1, 12)), jnp.asarray(rng.normal(size=11))
    r = 0.05 + 0.1 * np.arange(12)
    a = jnp.asarray(r[:-1] + 0.05)
    flux = flux_divergence(diffusive_flux(v, 0.3, 0.1, a) + upwind_flux(v, w * a)) / (0.1 * jnp.asarray(r))
    lo, d, up = transport_tridiagonal(0.3 * a / 0.1, w * a, 0.1, jnp.asarray(r))
    matrix = d * v + lo * jnp.roll(v, 1) + up * jnp.roll(v, -1)
    np.testing.assert_allclose(matrix, flux, rtol=1e-12, atol=1e-12)


def test_solutions_stay_non_negative_and_modes_agree():
    explicit = solve_radial(P, SMALL, 15.0)
    imex = solve_radial(P, RadialConfig(L=5.0, N=50, mode="imex", dt=0.005), 15.0)
    coarse_imex = solve_radial(P, RadialConfig(L=5.0, N=50, mode="imex", dt=0.25), 15.0)
    for sol in (explicit, imex, coarse_imex):
        assert sol.ok, sol.message
        assert float(jnp.min(jnp.stack(sol.final))) >= 0
    assert float(explicit.cfl) < 1
    # both modes are first order in time: at dt = 0.005 h the phi transient (rate alpha_phi K + q_phi = 2.6 /h)
    # carries a relative error ~ dt * rate / 2 = 6.5e-3 at t = 1 h, which decays; the totals after 10 h agree to 1e-3
    ours, ref = np.asarray(imex.series)[:, :4], np.asarray(explicit.series)[:, :4]
    np.testing.assert_allclose(ours, ref, rtol=6.5e-3, atol=1e-6)
    np.testing.assert_allclose(ours[10:], ref[10:], rtol=1e-3)


def test_inflow_integral_against_quadrature():
    ref_cfg = RadialConfig(L=4.0, N=400, scheme="reference")
    fv_cfg = RadialConfig(L=4.0, N=400)
    r = ref_cfg.r
    i = jnp.asarray(np.exp(-r ** 2) * 1e3)
    # the authors' trapz over cell centres, against SciPy's trapezoid rule
    assert float(ref_cfg.inflow_integral(i)) == pytest.approx(2 * np.pi * trapezoid(np.asarray(i) * r, r),
                                                              rel=1e-13)
    # the finite-volume sum 2 pi sum i_j r_j dr: second order, Richardson to 1e-8 of the exact integral
    exact = np.pi * 1e3 * (1 - np.exp(-16.0))
    coarse = float(RadialConfig(L=4.0, N=200).inflow_integral(jnp.asarray(np.exp(-RadialConfig(L=4.0, N=200).r ** 2)
                                                                          * 1e3)))
    fine = float(fv_cfg.inflow_integral(i))
    assert abs(coarse - exact) / abs(fine - exact) == pytest.approx(4.0, rel=0.01)
    assert (4 * fine - coarse) / 3 == pytest.approx(exact, rel=1e-8)
    # inflow only on [0, R]
    part = RadialConfig(L=4.0, N=400, R=2.0)
    mask = r <= 2.0
    assert float(part.inflow_integral(i)) == pytest.approx(2 * np.pi * np.sum(np.asarray(i)[mask] * r[mask]) * 0.01,
                                                           rel=1e-13)


def test_front_speeds_without_immune_cells_match_appendix_b():
    """1-D (planar) fronts with zeta = 0: uninfected 2 sqrt(D p) and infected 2 sqrt(D (beta - q)) within 2%.

    dr = 0.025 mm resolves the front (width ~ sqrt(D/p) = 0.1 mm); the README shows the convergence in dr.
    The fit adds back the universal relaxation terms of pulled fronts (`front_speed`)."""
    p = OncolyticParams(zeta=0.0)
    cfg = RadialConfig(L=10.0, N=400, geometry="planar", mode="imex", dt=0.125, save_every=20.0)
    r, n = cfg.r, cfg.N
    zeros = jnp.zeros(n)
    fisher = solve_radial(p, cfg, 1000.0, y0=OVState(jnp.where(r <= 1.0, 9e3, 0.0), zeros, zeros, zeros))
    c_u = front_speed(fisher.ts, fisher["front_u"], 400, 1000, rate=p.p, D=p.D)
    assert c_u == pytest.approx(fisher_speed(p.D, p.p), rel=0.02)
    infection = solve_radial(p, cfg, 500.0, y0=OVState(jnp.full(n, 1e4), jnp.where(r <= 0.5, 1e3, 0.0), zeros,
                                                        zeros))
    c_i = front_speed(infection.ts, infection["front_i"], 200, 500, rate=p.beta - p.q, D=p.D)
    assert c_i == pytest.approx(fisher_speed(p.D, p.beta - p.q), rel=0.02)


def test_explicit_step_above_limit_is_refused_with_the_limit():
    limits = stable_step(P, SMALL)
    with pytest.raises(ValueError, match=r"largest stable dt is .* h") as e:
        solve_radial(P, RadialConfig(L=5.0, N=50, dt=2 * limits["stable"]), 10.0)
    assert "diffusion limit" in str(e.value) and "chemotaxis limit" in str(e.value)
    # the authors' dt = 1e-4 h is inside the limit of their grid
    assert stable_step(REFERENCE_CODE, RadialConfig(scheme="reference"))["stable"] > 1e-4


def test_too_large_step_under_tracing_is_reported_in_the_status():
    """Traced parameters skip the a-priori check; the run-time CFL/positivity check flags the failure."""
    run = jax.jit(lambda z: solve_radial(P.replace(zeta=z), RadialConfig(L=5.0, N=50, dt=0.2), 4.0))
    sol = run(0.5)
    assert int(sol.status) in (2, 3) and float(sol.cfl) > 1 and not sol.ok
    assert "negative" in sol.message or "CFL" in sol.message


@pytest.mark.parametrize("bad", [
    lambda: RadialConfig(L=10.0, R=12.0),
    lambda: RadialConfig(N=2),
    lambda: RadialConfig(scheme="reference", mode="imex"),
    lambda: RadialConfig(mode="implicit"),
    lambda: OncolyticParams(beta=-0.1),
    lambda: RadialSetup().replace(nonsense=1.0),
    lambda: initial_condition(RadialConfig(L=2.0, N=20), R_u=2.6),
    lambda: solve_radial(P, SMALL, 2.5),
    lambda: Protocol(fraction=1.5),
    lambda: Grid2D(L=5.0, R=6.0),
    lambda: solve_2d(P, Grid2D(L=2.0, N=20, dt=1.0), 2.0),
    lambda: solve_2d(P, Grid2D(L=2.0, N=20), 2.0, y0=OVState(*(jnp.zeros((10, 10)),) * 4)),
    lambda: solve_radial(P, SMALL, 4.0, y0=OVState(*(jnp.zeros(7),) * 4)),
    lambda: solve_radial(P.to_ode(), SMALL, 4.0),
    lambda: solve_radial(P, SMALL, 4.0, profile_every=3),
    lambda: jax.jit(lambda z: solve_radial(P.replace(zeta=z), SMALL, 2.0).series)(0.5),
    lambda: RadialConfig(safety=1.5),
    lambda: RadialConfig(save_every=0.0),
    lambda: Protocol(zeta_factor=-1.0),
    lambda: RadialSetup(N=10.5).config(RadialConfig()),
    lambda: RadialSetup(L=-1.0),
])
def test_bad_input_fails_clearly(bad):
    with pytest.raises(ValueError):
        bad()


def test_gradient_matches_finite_difference():
    cfg = TINY
    cfg_imex = RadialConfig(L=4.0, N=20, mode="imex", dt=0.04)

    def final_burden(theta, config):
        p = P.replace(beta=theta[0], zeta=theta[1], chi=theta[2])
        return solve_radial(p, config, 2.0)["U_total"][-1]

    theta = jnp.array([0.102, 0.5, 0.165])
    for config in (cfg, cfg_imex):
        g = jax.grad(final_burden)(theta, config)
        for k in range(3):
            h = 1e-3 * theta[k]  # U_total ~ 2e5: a smaller h drowns the difference in round-off
            e = jnp.zeros(3).at[k].set(h)
            fd = (final_burden(theta + e, config) - final_burden(theta - e, config)) / (2 * h)
            assert float(g[k]) == pytest.approx(float(fd), rel=1e-6, abs=1e-6)


def test_vmap_over_parameters_matches_loop_and_compiles_once(monkeypatch):
    zetas = jnp.array([0.5, 2.0, 5.0])
    cfg = TINY
    batched = jax.vmap(lambda z: solve_radial(P.replace(zeta=z), cfg, 3.0).series)(zetas)
    for k, z in enumerate(zetas):
        np.testing.assert_allclose(batched[k], solve_radial(P.replace(zeta=z), cfg, 3.0).series, rtol=1e-12)
    traces = []
    real = _radial._make_step
    monkeypatch.setattr(_radial, "_make_step", lambda *a: traces.append(1) or real(*a))
    for beta in (0.09, 0.1, 0.11):
        solve_radial(P.replace(beta=beta, zeta=1.0), cfg, 3.0)
    assert len(traces) <= 1  # new parameter values reuse the compiled solve


def test_protocol_jumps_inside_one_solve():
    cfg = TINY
    # immune enhancement at t = 3 h equals two chained solves
    switched = solve_radial(P, cfg, 6.0, protocol=Protocol(t_switch=3.0, zeta_factor=10.0))
    first = solve_radial(P, cfg, 3.0)
    second = solve_radial(P.replace(zeta=5.0), cfg, 6.0, y0=first.final, t0=3.0)
    np.testing.assert_allclose(switched.series[3:], second.series, rtol=1e-12)
    # a wide injection at 3 h: 30% of u becomes i everywhere
    injected = solve_radial(P, cfg, 3.0, protocol=Protocol(t_injections=(3.0,), fraction=0.3))
    np.testing.assert_allclose(injected.final.u, 0.7 * first.final.u, rtol=1e-12)
    np.testing.assert_allclose(injected.final.i, first.final.i + 0.3 * first.final.u, rtol=1e-12)
    # threshold-triggered injections (no infection, no killing: U grows) keep U_total below the threshold
    grow = P.replace(zeta=0.0)
    free = solve_radial(grow, cfg, 6.0, R_i=0.0)
    thr = float(free["U_total"][2])
    trig = solve_radial(grow, cfg, 6.0, R_i=0.0, protocol=Protocol(threshold=thr, t_threshold_start=0.0))
    assert int(trig.n_injections) == 1 and 1.0 < float(trig.t_first_injection) <= 2.0
    assert float(jnp.max(trig["U_total"])) < thr


def test_2d_radially_symmetric_data_stay_close_to_the_radial_solution():
    """Smooth radial data (so that both grids sample the same function): the 2-D totals follow the radial ones."""
    def smooth(r):
        zero = 0 * r
        return OVState(9e3 * np.exp(-(r / 2.6) ** 4), 1e3 * np.exp(-(r / 1.0) ** 4), zero, zero)

    grid, cfg = Grid2D(L=6.0, N=40), RadialConfig(L=6.0, N=40)
    s2 = solve_2d(P, grid, 10.0, y0=smooth(grid.radius))
    sr = solve_radial(P, cfg, 10.0, y0=smooth(cfg.r))
    assert int(s2.status) == 0 and sr.ok
    np.testing.assert_allclose(s2.series[1:], sr.series[1:, :4], rtol=0.02)
    # the fields keep the symmetries of the square
    u = np.asarray(s2.final.u)
    np.testing.assert_allclose(u, u.T, rtol=1e-10)
    np.testing.assert_allclose(u, u[::-1], rtol=1e-10)


def test_cli_run_writes_totals_and_metrics(tmp_path, capsys):
    out = tmp_path / "ov"
    code = main(["run", "ov-pde-delayed-central", "--x64", "--set", "N=20", "--set", "L=4", "--set", "zeta=0.6",
                 "--t-end", "12", "--out", str(out), "--no-figure"])
    assert code == 0
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["t", "U_total", "I_total", "Z_total"] and "TCP" in header and "front_i" in header
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["zeta"] == 0.6 and summary["numerics"]["N"] == 20
    for key in ("TCP_final", "ICP_final", "front_u_final_mm", "front_i_final_mm"):
        assert key in summary["metrics"]
    assert main(["run", "ov-pde-weak-central", "--set", "nonsense=1", "--out", str(out)]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert math.isfinite(summary["metrics"]["front_u_final_mm"])


def test_unsupported_or_nan_protocols_and_float32_reference_runs_are_refused():
    from tumorjax import get_scenario

    for kw in (dict(t_switch=math.nan), dict(t_threshold_start=math.nan)):
        with pytest.raises(ValueError, match="must be a time in h"):
            Protocol(**kw)
    with pytest.raises(ValueError, match="does not support threshold-triggered injections"):
        solve_2d(P, Grid2D(L=2.0, N=20), 2.0, protocol=Protocol(threshold=5e4))
    ref, paper, abm = (get_scenario(n) for n in ("ov-pde-weak-central-reference", "ov-pde-weak-central",
                                                  "ov-abm-weak-central"))
    assert float(ref.params.q) == 9.34e-3 and float(abm.params.q) == 9.34e-3 and float(paper.params.q) == 8.34e-3
    for s, q, drift in ((ref, "9.34e-3", "chi grad(phi)"), (abm, "9.34e-3", "chi grad(phi)"),
                        (paper, "8.34e-3", "(chi/phi*) grad(phi)")):
        assert f"q = {q}" in s.description and drift in s.description, s.description
    with jax.enable_x64(False), pytest.raises(ValueError, match="run it in float64"):
        ref.run(t_end=1.0)
