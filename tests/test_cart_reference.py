"""The reference scheme against the author's C++ output (float64): fields, means, conservation, errors."""

import os
import platform
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tumorjax.cart import (
    FIELDS, NORMALISED, NORMALISED_INITIAL, REFERENCE_CODE, CARTInitial, CARTNumerics, CARTParams, CARTSetup,
    initial_fields, reference_stability, simulate_cart, step_reference,
)
from tumorjax.cart._reference_scheme import chemotaxis_reference, jacobi_reference

SMALL = CARTNumerics(nx=16, ny=16, nz=16, T=3.0)
TINY = CARTNumerics(nx=4, ny=4, nz=4, T=0.04, save_every=2)
_step = jax.jit(step_reference, static_argnums=(2,))


def _load(shared, case):
    d = np.load(shared / f"reference/cart/{case}_fields.npz")
    return {n: np.stack([d[f"{f}_step{n}"] for f in FIELDS]) for n in (0, 1, 2, 300)}


def _run(init, n_steps, U=None):
    U = initial_fields(init, SMALL) if U is None else U
    out = {}
    for n in range(1, n_steps + 1):
        U, _ = _step(U, REFERENCE_CODE, SMALL)
        if n in (1, 2, 300):
            out[n] = np.asarray(U)
    return out


def _relerr(a, b):
    return np.abs(a - b).reshape(7, -1).max(1) / np.maximum(np.abs(b).reshape(7, -1).max(1), 1e-300)


def test_initial_condition_is_the_codes(shared):
    for case, layer in (("small_default", 0.05), ("small_overlap", 0.4)):
        np.testing.assert_array_equal(initial_fields(CARTInitial(cart_layer=layer), SMALL), _load(shared, case)[0])
    U = np.asarray(initial_fields(CARTInitial(), CARTNumerics()))
    assert (U[2] > 0).sum() == 2008 and (U[0] > 0).sum() == 384  # default 40^3 node counts


def test_overlap_case_fields_at_steps_1_2_300(shared):
    ref = _load(shared, "small_overlap")
    got = _run(CARTInitial(cart_layer=0.4), 300)
    for n in (1, 2, 300):
        assert np.all(_relerr(got[n], ref[n]) < 1e-9), (n, _relerr(got[n], ref[n]))


def test_default_case_fields_and_round_off_chaos(shared):
    """With XLA's default code generation (fused multiply-adds) steps 1, 2 agree to round-off, and step 300
    only to the level of round-off chaos: the reference's C (decayed from 1e7 to 0.7) amplifies 1e-16
    differences through the unstable RK2 (h k_e >> 2 in the tumour) and flipped Jacobi stops
    (|du| < 1e-8): a 1e-15 relative perturbation of the initial data comes out of 300 steps thousands of
    times larger in C (measured 7e3). Without fused multiply-adds the run is the C++ one bit for bit
    (next test)."""
    ref = _load(shared, "small_default")
    got = _run(CARTInitial(), 300)
    for n in (1, 2):
        assert np.all(_relerr(got[n], ref[n]) < 1e-12)
    U0 = initial_fields(CARTInitial(), SMALL) * (1 + 1e-15)
    perturbed = _run(CARTInitial(), 300, U0)[300]
    amplification = np.abs(perturbed[0] - got[300][0]).max() / (1e-15 * float(np.abs(U0[0]).max()))
    assert amplification > 1e3, amplification


_BIT_FOR_BIT = """
import sys
from pathlib import Path
import jax
import numpy as np
jax.config.update("jax_enable_x64", True)
from tumorjax.cart import FIELDS, REFERENCE_CODE, CARTInitial, CARTNumerics, initial_fields, step_reference
num = CARTNumerics(nx=16, ny=16, nz=16, T=3.0)
step = jax.jit(step_reference, static_argnums=(2,))
for case, layer in (("small_default", 0.05), ("small_overlap", 0.4)):
    d = np.load(Path(sys.argv[1]) / "reference/cart" / f"{case}_fields.npz")
    U = initial_fields(CARTInitial(cart_layer=layer), num)
    for n in range(1, 301):
        U, _ = step(U, REFERENCE_CODE, num)
        if n in (1, 2, 300):
            ref = np.stack([d[f"{f}_step{n}"] for f in FIELDS])
            assert np.array_equal(np.asarray(U), ref), (case, n, int((np.asarray(U) != ref).sum()))
print("bit for bit")
"""


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the C++ run was on x86-64")
def test_bit_for_bit_without_fused_multiply_adds(shared):
    """With XLA's fused multiply-adds off (`XLA_FLAGS=--xla_cpu_max_isa=AVX`, read when JAX starts: hence a
    subprocess) the scheme is the C++ run bit for bit, through the round-off chaos of `small_default`:
    the C++ (g++ -O3, x86-64 baseline) has no FMA, and the scheme keeps XLA from turning its division by
    the constant dx^2 into a multiplication by the reciprocal."""
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_max_isa=AVX"}
    out = subprocess.run([sys.executable, "-c", _BIT_FOR_BIT, str(shared)], env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0 and "bit for bit" in out.stdout, out.stderr[-3000:]


def test_timeseries_means_until_the_chaos(shared):
    rows = np.loadtxt(shared / "reference/cart/small_default_timeseries.csv", delimiter=",", skiprows=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = simulate_cart(CARTSetup(model=REFERENCE_CODE, numerics=SMALL.replace(T=2.0, save_every=20)))
    cols = sol.to_columns()
    for j, f in enumerate(FIELDS):  # the CSV has 10 significant digits
        np.testing.assert_allclose(cols[f"mean_{f}"], rows[::20][: len(sol.ts), 2 + j], rtol=2e-9, atol=1e-300)
        np.testing.assert_allclose(cols[f"max_{f}"], rows[::20][: len(sol.ts), 9 + j], rtol=2e-9)


def test_diffusion_and_chemotaxis_conserve_the_node_sum():
    rng = np.random.default_rng(0)
    b = jnp.asarray(rng.random((9, 8, 7)))
    for iters, tol in ((3, 0.0), (60, 1e-8)):
        u, _ = jacobi_reference(b, 1.5, 0.01, (0.1, 0.1, 0.1), iters, tol)
        assert float(jnp.sum(u)) == pytest.approx(float(jnp.sum(b)), rel=1e-14)
    C, S, A = (jnp.asarray(rng.random((9, 8, 7))) for _ in range(3))
    rate = chemotaxis_reference(C, S, A, REFERENCE_CODE, (10.0, 10.0, 10.0))
    assert abs(float(jnp.sum(rate))) < 1e-13 * float(jnp.sum(jnp.abs(rate)))


def test_a_clean_normalised_run_and_jacobi_sweeps_within_the_contraction_bound():
    """Jacobi increments shrink by rho = 2 sum(a)/(1 + 2 sum(a)) per sweep (a = dt D/dx^2 per axis) from at most
    rho max|b|, so it stops after at most log(tol/max|b|)/log(rho) + 1 sweeps: far below the cap of 60."""
    init = NORMALISED_INITIAL.replace(cart_layer=0.4, tumor_radius=0.35, cart_radius=0.3)  # nodes on a 4^3 grid
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # N1 at dt = 0.01 is within the RK2 limit: no warning
        sol = simulate_cart(CARTSetup(model=NORMALISED, initial=init, numerics=TINY))
    assert sol.ok and sol.integral[-1, [0, 2]].min() > 0.02  # C and T_A present: a non-trivial run
    a = 3 * TINY.dt * np.asarray(NORMALISED.diffusion()) / (1 / 3) ** 2
    rho = 2 * a / (1 + 2 * a)
    bound = np.floor(np.log(TINY.diff_tol / (2 * sol.max.max(0))) / np.log(rho)) + 1
    sweeps = sol.diagnostics["jacobi_sweeps"].max(0)
    assert np.all(sweeps <= bound) and np.all(bound < 20), (sweeps, bound)
    assert sweeps[6] > sweeps[2]  # the fast hypoxia diffusion needs more sweeps than the slow tumour cells


def test_rk2_substeps_are_one_loop():
    from tumorjax.cart._reference_scheme import rhs_reference, rk2_reference

    num = CARTNumerics(nx=5, ny=4, nz=3)
    U = jnp.asarray(np.random.default_rng(6).random((7,) + num.shape))
    inv = (4.0, 3.0, 2.0)
    size = [len(jax.make_jaxpr(lambda u: rk2_reference(u, NORMALISED, 0.01, n, inv))(U).eqns) for n in (1, 50)]
    assert size[0] == size[1]
    V, hs = U, 0.01 / 3  # three Heun substeps written out
    for _ in range(3):
        k1 = rhs_reference(V, NORMALISED, inv)
        k2 = rhs_reference(jnp.maximum(V + hs * k1, 0.0), NORMALISED, inv)
        V = jnp.maximum(V + (0.5 * hs) * k1 + (0.5 * hs) * k2, 0.0)
    np.testing.assert_allclose(rk2_reference(U, NORMALISED, 0.01, 3, inv), V, rtol=1e-14, atol=1e-16)


def test_stability_estimate_without_decay():
    num = TINY.replace(T=2.0)
    s = reference_stability(NORMALISED.replace(lambda_A=0.0, lambda_H=0.0), NORMALISED_INITIAL, num)
    A_max, H_max = (0.5 + 0.2) * 2.0, 0.3 * 2.0  # source x T: the level reached by the horizon
    assert s["rates"]["C exhaustion k_e(A_max, H_max)"] == pytest.approx(0.05 * (1 + A_max + H_max))


def test_unstable_step_warns_with_the_limit():
    s = reference_stability(REFERENCE_CODE, CARTInitial(), SMALL)
    assert not s["stable"] and s["dt_max"] == pytest.approx(4 / (0.41 * 2.4e7 + 0.05 + 0.08))
    with pytest.warns(RuntimeWarning, match=r"dt <= 4\.07e-07"):
        simulate_cart(CARTSetup(model=REFERENCE_CODE, numerics=TINY))


def test_bad_input():
    with pytest.raises(ValueError, match="D_C"):
        CARTParams(D_C=-1.0)
    with pytest.raises(ValueError, match="at least 3 nodes"):
        CARTNumerics(nx=2)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['foo'\]"):
        CARTSetup().replace(foo=1.0)
    with pytest.raises(ValueError, match="must be an integer"):
        CARTSetup().replace(nx=3.5)
    with pytest.raises(ValueError, match="unknown scheme"):
        simulate_cart(scheme="rk4")


def test_parameters_do_not_recompile(monkeypatch):
    import tumorjax.cart._solver as solver

    traces = []
    original = solver._step
    monkeypatch.setattr(solver, "_step", lambda *a, **k: (traces.append(1), original(*a, **k))[1])
    for rho in (0.5, 0.6, 0.7):
        simulate_cart(CARTSetup(model=NORMALISED.replace(rho_C=rho), initial=NORMALISED_INITIAL,
                                numerics=TINY.replace(save_every=1)))
    assert len(traces) == 1
