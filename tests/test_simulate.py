"""simulate: named solutions, status on failure, precision switch, validation, no recompiles."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.core._simulate import _solve_impl


class DecayParams(tj.Parameters):
    k: float = tj.param(1.0, "1/day", "decay rate")


class NaNAfter3(tj.ODEModel):
    """x' = -k x, but the field is NaN after t = 3."""

    state_names: ClassVar = ("x",)
    params_class: ClassVar = DecayParams

    def vector_field(self, t, y, p):
        return jnp.where(t > 3.0, jnp.nan, -p.k * y)


class BlowUp(tj.ODEModel):
    """x' = k x^2 from x(0) = 1 blows up at t = 1/k."""

    state_names: ClassVar = ("x",)
    params_class: ClassVar = DecayParams

    def vector_field(self, t, y, p):
        return p.k * y**2


def test_named_access_and_columns():
    model = tj.TumourEffector()
    sol = tj.simulate(model, None, {"T": 1e6, "E": 3.2e5}, (0.0, 10.0), n_save=11)
    assert sol.ok and sol.message == "success"
    assert sol["T"].shape == (11,) and sol.final("E") == sol["E"][-1]
    cols = sol.to_columns()
    assert list(cols) == ["t", "T", "E"]
    with pytest.raises(KeyError, match="states: T, E"):
        sol["I"]


def test_nan_gives_failed_status_and_says_when():
    sol = tj.simulate(NaNAfter3(), None, [1.0], (0.0, 10.0), n_save=11)
    assert sol.status == tj.Status.NONFINITE
    assert not sol.ok
    assert abs(float(sol.t_stop) - 3.0) < 1e-2
    assert "NONFINITE" in sol.message and "t = 3" in sol.message
    # save points before the failure are kept
    np.testing.assert_allclose(sol["x"][:4], np.exp(-np.arange(4.0)), rtol=1e-6)
    with pytest.raises(RuntimeError, match="NONFINITE"):
        tj.simulate(NaNAfter3(), None, [1.0], (0.0, 10.0), throw=True)


def test_blow_up_fails_near_the_blow_up_time():
    # Either the solver stops at the singularity t = 2, or it steps across it and the
    # first non-finite save point (spacing 0.025) is reported.
    sol = tj.simulate(BlowUp(), DecayParams(k=0.5), [1.0], (0.0, 5.0), n_save=201, max_steps=2000)
    assert sol.status != tj.Status.SUCCESS
    assert 2.0 - 1e-2 <= float(sol.t_stop) <= 2.0 + 0.025 + 1e-12, sol.message


def test_float32_float64_switch():
    model, y0 = tj.TumourEffector(), {"T": 1e6, "E": 3.2e5}
    s64 = tj.simulate(model, None, y0, (0.0, 100.0), n_save=5, dtype="float64")
    s32 = tj.simulate(model, None, y0, (0.0, 100.0), n_save=5, dtype="float32")
    assert s64.ys.dtype == jnp.float64 and s32.ys.dtype == jnp.float32
    np.testing.assert_allclose(s32.ys, s64.ys, rtol=1e-3)  # float32 at rtol 1e-5
    with pytest.raises(ValueError, match="float32 or float64"):
        tj.simulate(model, None, y0, (0.0, 1.0), dtype="int32")


def test_bad_inputs_fail_clearly():
    model = tj.TumourEffector()
    with pytest.raises(ValueError, match=r"y0 must have shape \(2,\) for the states \('T', 'E'\).*\(3,\)"):
        tj.simulate(model, None, [1.0, 2.0, 3.0], (0.0, 1.0))
    with pytest.raises(ValueError, match="missing \\['E'\\]"):
        tj.simulate(model, None, {"T": 1.0}, (0.0, 1.0))
    with pytest.raises(ValueError, match="non-negative"):
        tj.simulate(model, None, [-1.0, 2.0], (0.0, 1.0))
    with pytest.raises(ValueError, match="t1 > t0"):
        tj.simulate(model, None, [1.0, 2.0], (1.0, 0.0))
    with pytest.raises(TypeError, match="takes TumourEffectorParams"):
        tj.simulate(model, tj.GrowthParams(), [1.0, 2.0], (0.0, 1.0))
    with pytest.raises(ValueError, match="unknown killing 'holling4'"):
        tj.TumourEffector(killing="holling4")
    with pytest.raises(ValueError, match="n_save must be an integer >= 2.*got 0"):
        tj.simulate(model, None, [1.0, 2.0], (0.0, 1.0), n_save=0)
    with pytest.raises(ValueError, match="ts must be 1D with at least one time"):
        tj.simulate(model, None, [1.0, 2.0], (0.0, 1.0), ts=[])
    for tol in ({"rtol": -1.0}, {"atol": 0.0}):
        with pytest.raises(ValueError, match=f"{next(iter(tol))} must be a positive number"):
            tj.simulate(model, None, [1.0, 2.0], (0.0, 1.0), **tol)
    for ts in ([-5.0, 0.0, 1.0], [0.0, 1.0, 3.0]):
        with pytest.raises(ValueError, match=r"ts must lie in t_span = \(0.0, 1.0\)"):
            tj.simulate(model, None, [1.0, 2.0], (0.0, 1.0), ts=ts)


def test_parameter_changes_never_recompile():
    model, y0 = tj.TumourEffector(), jnp.array([1e6, 3.2e5])
    p = model.default_params()
    tj.simulate(model, p, y0, (0.0, 50.0))
    before = eqx.debug.get_num_traces(_solve_impl)
    for r in (0.1, 0.2, 0.3):
        tj.simulate(model, p.replace(r=r, kappa=2e-7), y0 * r, (0.0, 50.0 + r))
    assert eqx.debug.get_num_traces(_solve_impl) == before


def test_vmap_over_1000_parameter_sets_compiles_once():
    model = tj.TumourEffector()
    p = model.default_params()

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def finals(params, y0):
        run = lambda q, y: tj.simulate(model, q, y, (0.0, 50.0), n_save=2).ys[-1]  # noqa: E731
        return jax.vmap(run, in_axes=(params.in_axes(), 0))(params, y0)

    rs = jnp.linspace(0.1, 0.3, 1000)
    y0 = jnp.tile(jnp.array([1e6, 3.2e5]), (1000, 1))
    out = finals(p.replace(r=rs, kappa=jnp.full(1000, 1.101e-7)), y0)
    out2 = finals(p.replace(r=rs[::-1], kappa=jnp.full(1000, 1.2e-7)), y0 * 2)  # no retrace
    with pytest.raises(RuntimeError, match="can only be traced 1 times"):
        finals(p.replace(r=rs), y0)  # a different batching (kappa unbatched) must retrace
    assert out.shape == out2.shape == (1000, 2) and np.all(np.isfinite(out))
    one = tj.simulate(model, p.replace(r=float(rs[7])), y0[7], (0.0, 50.0), n_save=2)
    np.testing.assert_allclose(out[7], one.ys[-1], rtol=1e-10)


def test_grad_of_final_tumour_wrt_r_matches_finite_difference():
    model = tj.TumourEffector(proliferation="mass_action")
    p0 = model.default_params().replace(r=0.3, K=1e9, kappa=1e-7, alpha=1e-10, eps=0.0, s=1e4, delta=0.1)
    y0 = jnp.array([1e3, 1e5])

    def final_T(r):
        return tj.simulate(model, p0.replace(r=r), y0, (0.0, 40.0), n_save=2, rtol=1e-12, atol=1e-12).ys[-1, 0]

    g = jax.grad(final_T)(0.3)
    h = 1e-5
    fd = (final_T(0.3 + h) - final_T(0.3 - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
