"""The accurate CAR-T scheme and the DCT diffusion solvers (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from tumorjax.cart import (
    NORMALISED, NORMALISED_INITIAL, REFERENCE_CODE, CARTHomogeneous, CARTInitial, CARTNumerics, CARTSetup,
    initial_fields, simulate_cart, tumour_burden,
)
from tumorjax.cart._accurate_scheme import chemotaxis_flow
from tumorjax.numerics import neumann_cg_solve, neumann_heat, neumann_resolvent, node_weights


def _laplacian_1d(n, h, grid):
    L = np.diag(-2.0 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    L[0, 0] = L[-1, -1] = -1.0
    if grid == "vertex":
        L[0, 1] = L[-1, -2] = 2.0
        L[0, 0] = L[-1, -1] = -2.0
    return L / h**2


@pytest.mark.parametrize("grid", ["cell", "vertex"])
def test_dct_solvers_against_dense_matrices(grid):
    rng = np.random.default_rng(1)
    shape, h = (5, 4, 6), (0.3, 0.2, 0.25)
    Ls = [_laplacian_1d(n, hh, grid) for n, hh in zip(shape, h)]
    I = [np.eye(n) for n in shape]
    L = (np.kron(np.kron(Ls[0], I[1]), I[2]) + np.kron(np.kron(I[0], Ls[1]), I[2])
         + np.kron(np.kron(I[0], I[1]), Ls[2]))
    u = rng.random(shape)
    heat = scipy.linalg.expm(0.07 * L) @ u.ravel()
    np.testing.assert_allclose(neumann_heat(jnp.asarray(u), 0.7, 0.1, h, grid).ravel(), heat, atol=1e-13)
    res = np.linalg.solve(np.eye(L.shape[0]) - 0.07 * L, u.ravel())
    np.testing.assert_allclose(neumann_resolvent(jnp.asarray(u), 0.7, 0.1, h, grid).ravel(), res, atol=1e-13)
    u1 = rng.random(7)  # 1D
    np.testing.assert_allclose(neumann_heat(jnp.asarray(u1), 1.0, 0.05, (0.3,), grid),
                               scipy.linalg.expm(0.05 * _laplacian_1d(7, 0.3, grid)) @ u1, atol=1e-13)
    w = np.asarray(node_weights(shape, grid))
    heat_u = np.asarray(neumann_heat(jnp.asarray(u), 0.7, 0.1, h, grid))
    assert np.sum(w * heat_u) == pytest.approx(np.sum(w * u), rel=1e-14)  # weighted mass
    assert heat_u.min() >= 0  # positivity


def test_cg_solver_for_varying_coefficient():
    rng = np.random.default_rng(2)
    b = jnp.asarray(rng.random((6, 5, 7)))
    h = (0.2, 0.25, 0.15)
    solve = jax.jit(neumann_cg_solve, static_argnums=(3, 4))
    u, res = solve(b, jnp.full(b.shape, 0.4), 0.1, h, "vertex")
    np.testing.assert_allclose(u, neumann_resolvent(b, 0.4, 0.1, h, "vertex"), atol=1e-11)
    D = jnp.asarray(0.1 + rng.random(b.shape))
    u, res = solve(b, D, 0.1, h, "vertex")
    w = node_weights(b.shape, "vertex")
    assert res < 1e-11 and float(jnp.sum(w * u)) == pytest.approx(float(jnp.sum(w * b)), rel=1e-12)


def test_chemotaxis_conserves_trapezoid_mass_and_positivity():
    num = CARTNumerics(nx=9, ny=8, nz=7)
    rng = np.random.default_rng(3)
    U = jnp.asarray(rng.random((7,) + num.shape)) * jnp.array([1, 0, 0, 0, 30, 1, 0])[:, None, None, None]
    U = U.at[0].set(jnp.where(U[0] > 0.7, U[0], 0.0))  # sharp fronts and zeros
    out, n, ok = chemotaxis_flow(U, NORMALISED, 0.05, num)
    w = node_weights(num.shape, "vertex")
    assert bool(ok) and int(n) > 1
    assert float(jnp.sum(w * out[0])) == pytest.approx(float(jnp.sum(w * U[0])), rel=1e-13)
    assert float(out[0].min()) >= 0.0


HOMOG = CARTInitial(tumor_radius=10, cart_layer=10, cart_radius=10)


def test_homogeneous_case_matches_radau(shared):
    ref = np.loadtxt(shared / "reference/cart/homog_ode_radau.csv", delimiter=",", skiprows=1)
    num = CARTNumerics(nx=3, ny=3, nz=3, dt=0.1, T=4.0, rtol=1e-8, atol=1e-11, save_every=10)
    sol = simulate_cart(CARTSetup(model=REFERENCE_CODE, initial=HOMOG, numerics=num), scheme="accurate")
    assert sol.ok
    idx = [int(np.argmin(np.abs(ref[:, 0] - t))) for t in sol.ts]
    np.testing.assert_allclose(ref[idx, 0], sol.ts, atol=1e-12)
    scale = np.abs(ref[ref[:, 0] <= 4.0 + 1e-9, 1:]).max(0)
    err = np.abs(sol.mean - ref[idx, 1:]).max(0) / scale
    assert np.all(err < 1e-6), err
    assert np.abs(sol.final - sol.final[:, :1, :1, :1]).max() < 1e-9 * np.abs(sol.final).max()  # stays uniform


def _smooth_run(n, dt, T, edge, rtol, atol):
    """Final fields of the accurate scheme, normalised set, smooth initial edges of half-width `edge`."""
    init = NORMALISED_INITIAL.replace(edge_width=edge, cart_layer=0.2)
    num = CARTNumerics(nx=n, ny=n, nz=n, T=T, dt=dt, rtol=rtol, atol=atol, save_every=10**6)
    return simulate_cart(CARTSetup(model=NORMALISED, initial=init, numerics=num), scheme="accurate").final


@pytest.mark.slow  # about 30 s CPU; benchmarks/bench_cart_3d.py --convergence measures the same orders
def test_second_order_in_dt_for_the_cells_and_S():
    """Strang splitting of exact diffusion, ROS2 reactions and SSP-RK2 chemotaxis: order 2 in dt for
    C, T_A, T_B, S (measured 2.06-2.07). A and H, with stiff diffusion (dt D_H/dx^2 >> 1), show the known
    order reduction of splitting at these steps (1.41-1.49; E 2.84)."""

    def run(dt):
        return _smooth_run(5, dt, 0.4, 0.15, 1e-10, 1e-10)

    ref = run(0.0125)
    err = np.array([np.abs(run(dt) - ref).reshape(7, -1).max(1) for dt in (0.2, 0.1, 0.05)])
    order = np.log2(err[:-1] / err[1:])
    assert np.all(order[:, [0, 2, 3, 4]] > 1.9), order
    assert np.all(order > 1.1), order


@pytest.mark.slow  # about 40 s CPU
def test_second_order_in_dt_for_every_field_at_smaller_steps():
    """Below the stiff regime of A and H (dt D_H/dx^2 < 1 on this grid) every field converges at order 2:
    dt 0.025 -> 0.0125 -> 0.00625 against 0.0015625 (measured 1.83-2.10 on the first pair, 1.88-2.07 on
    the second; A and H 2.01-2.02)."""

    def run(dt):
        return _smooth_run(5, dt, 0.4, 0.15, 1e-11, 1e-11)

    ref = run(0.0015625)
    err = np.array([np.abs(run(dt) - ref).reshape(7, -1).max(1) for dt in (0.025, 0.0125, 0.00625)])
    order = np.log2(err[:-1] / err[1:])
    assert np.all(order[-1] > 1.85), order


@pytest.mark.slow  # about 2.5 min CPU; benchmarks/bench_cart_3d.py --convergence measures the same orders
def test_second_order_in_dx():
    """Grid refinement 9^3 -> 17^3 -> 33^3 (dx 1/8 -> 1/32) at a fixed small dt on smooth data (septic
    smoothstep edges of half-width 0.25, flat at the walls), T = 0.32: the L2 differences at the common
    nodes fall at order 2 (measured 1.75-2.10 per field; T_A and T_B, which barely diffuse, approach 2
    last: 1.88-1.92 on 17^3 -> 33^3 -> 65^3 in `bench_cart_3d.py --convergence --fine`). Exact diffusion
    of the second-order vertex Laplacian, MUSCL chemotaxis, reactions to tolerance."""

    def run(n):
        return _smooth_run(n, 0.02, 0.32, 0.25, 1e-7, 1e-10)

    def l2(a, b):  # vertex-weighted L2 norm of a - b[::2] on the coarse grid
        w = np.asarray(node_weights(a.shape[1:], "vertex")) / (a.shape[1] - 1) ** 3
        return np.sqrt((w * (a - b[:, ::2, ::2, ::2]) ** 2).reshape(7, -1).sum(1))

    u9, u17, u33 = run(9), run(17), run(33)
    order = np.log2(l2(u9, u17) / l2(u17, u33))
    assert np.all(order > 1.7), order


def test_varying_D_C_path_conserves_and_agrees_with_the_exact_step():
    from tumorjax.cart._accurate_scheme import diffusion_flow

    num = CARTNumerics(nx=7, ny=6, nz=5)
    U = jnp.asarray(np.random.default_rng(4).random((7,) + num.shape))
    exact, ok_exact = diffusion_flow(U, NORMALISED, 0.05, num)
    cn, ok = diffusion_flow(U, NORMALISED, 0.05, num, D_C_map=jnp.ones(num.shape))
    assert bool(ok_exact) and bool(ok)
    np.testing.assert_allclose(cn[1:], exact[1:], rtol=1e-14)
    # Crank-Nicolson vs the exact step on rough data: 0.2% of the change (CN damps high modes less)
    assert float(jnp.abs(cn[0] - exact[0]).max()) < 5e-3 * float(jnp.abs(U[0] - exact[0]).max())
    w = node_weights(num.shape, "vertex")
    varying, _ = diffusion_flow(U, NORMALISED, 0.05, num, D_C_map=jnp.linspace(0.5, 2, 5) * jnp.ones(num.shape))
    assert float(jnp.sum(w * varying[0])) == pytest.approx(float(jnp.sum(w * U[0])), rel=1e-12)
    with pytest.raises(ValueError, match="needs scheme='accurate'"):
        simulate_cart(CARTSetup(numerics=num), scheme="reference", D_C_map=jnp.ones(num.shape))
    with pytest.raises(ValueError, match="grid shape"):
        simulate_cart(CARTSetup(numerics=num), scheme="accurate", D_C_map=jnp.ones((3, 3, 3)))


SMALL_INIT = NORMALISED_INITIAL.replace(cart_layer=0.4, tumor_radius=0.35, cart_radius=0.3)  # nodes on a 4^3 grid


def test_zero_source_or_decay_rates_keep_the_scales_positive():
    """sigma_S = 0 leaves S = 0 (its scale used to be 0: NaN), so chemotaxis vanishes: the run equals chi_0 = 0."""
    num = CARTNumerics(nx=4, ny=4, nz=4, T=0.5, dt=0.05, save_every=100, rtol=1e-9, atol=1e-9)

    def run(p):
        sol = simulate_cart(CARTSetup(model=p, initial=SMALL_INIT, numerics=num), scheme="accurate")
        assert sol.ok and np.all(np.isfinite(sol.final)), p
        return sol.final

    no_s, no_chemo, full = run(NORMALISED.replace(sigma_S=0.0)), run(NORMALISED.replace(chi_0=0.0)), run(NORMALISED)
    assert np.all(no_s[4] == 0.0)
    size = np.abs(no_chemo).reshape(7, -1).max(1)
    keep = [0, 1, 2, 3, 5, 6]
    assert np.all(np.abs(no_s - no_chemo).reshape(7, -1).max(1)[keep] < 1e-7 * size[keep])
    assert np.abs(full - no_chemo)[0].max() > 1e-3 * size[0]  # chemotaxis matters here: the match is informative
    for kw in (dict(sigma_A=0.0, sigma_M=0.0), dict(lambda_S=0.0), dict(lambda_A=0.0, eta=0.0)):
        run(NORMALISED.replace(**kw))
    p = NORMALISED.replace(sigma_S=0.0, lambda_A=0.0)  # no source: K_T; no decay: one day's production
    np.testing.assert_allclose(CARTHomogeneous().state_scale(p), [1, 1, 1, 1, 1, 0.5 * 1 + 0.2, 0.3 / 0.43])


def test_final_fields_trace_under_jit_and_grad_with_a_traced_D_C_map():
    """D_C_map may be an argument of a jitted or differentiated burden: its positivity check needs values only."""
    num = CARTNumerics(nx=4, ny=4, nz=4, T=0.1, dt=0.05, save_every=100)
    burden = lambda m: tumour_burden(NORMALISED, SMALL_INIT, num, "accurate", m)  # noqa: E731
    m = jnp.ones(num.shape).at[1:3].set(3.0)
    assert jax.eval_shape(jax.jit(burden), m).shape == ()  # traces (np.asarray of a tracer used to fail here)
    assert jax.eval_shape(jax.grad(lambda s: burden(s * m)), 1.0).shape == ()
    with pytest.raises(ValueError, match="positive everywhere"):
        simulate_cart(CARTSetup(numerics=num), scheme="accurate", D_C_map=-m)


def test_cg_tolerance_by_dtype_and_non_convergence_sets_ok(monkeypatch):
    from tumorjax.cart import _accurate_scheme
    from tumorjax.numerics._dct import cg_tolerance

    assert cg_tolerance(jnp.float64) == 1e-12 and cg_tolerance(jnp.float32) == pytest.approx(100 * 2.0**-23)
    rng = np.random.default_rng(5)
    b, D = (jnp.asarray(rng.random((6, 5, 7)), jnp.float32) for _ in range(2))
    _, res = neumann_cg_solve(b, 0.1 + D, 0.5, (0.2, 0.25, 0.15), "vertex")
    assert res <= 10 * cg_tolerance(jnp.float32)  # reachable in float32 (1e-12 is not)
    num = CARTNumerics(nx=4, ny=4, nz=4, T=0.05, dt=0.05, save_every=100)
    U, m = initial_fields(SMALL_INIT, num), jnp.ones(num.shape)
    assert bool(_accurate_scheme.diffusion_flow(U, NORMALISED, 0.05, num, m)[1])
    monkeypatch.setattr(_accurate_scheme, "cg_tolerance", lambda dtype: 1e-300)  # CG cannot meet this
    assert not bool(_accurate_scheme.diffusion_flow(U, NORMALISED, 0.05, num, m)[1])  # step_accurate ands it into ok


def test_initial_condition_and_dose_time_checks():
    num = CARTNumerics(nx=4, ny=4, nz=4, T=0.2, dt=0.05)
    with pytest.raises(ValueError, match=r"tb_fraction .* must be in \[0, 1\], got 1.5"):
        CARTInitial(tb_fraction=1.5)
    for t in (0.0, 0.02, 0.23):  # rounds to step 0 (before step 1), or past T (step 5 of 4)
        with pytest.raises(ValueError, match=r"t_dose2 must round to a step in \[dt, T\]"):
            simulate_cart(CARTSetup(initial=SMALL_INIT.replace(dose2=0.1, t_dose2=t), numerics=num), scheme="accurate")
    no_dose = SMALL_INIT.replace(t_dose2=0.03)  # t_dose2 is ignored without a dose
    simulate_cart(CARTSetup(model=NORMALISED, initial=no_dose, numerics=num), scheme="accurate")
    assert CARTNumerics(T=0.07, dt=0.01).n_steps == 7 and CARTNumerics(T=0.071, dt=0.01).n_steps == 8
