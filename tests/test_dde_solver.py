"""The method-of-steps DDE solver (float64): exact solutions, convergence order, batching, errors."""

import math
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.dde import Hutchinson, LinearDelay
from tumorjax.numerics import solve_dde
from tumorjax.numerics._dde import _solve_impl


def exact_linear(t):
    """y' = -y(t - 1), y = 1 on t <= 0: y(t) = sum_k (-1)^k (t - k + 1)^k / k! over k <= floor(t) + 1."""
    return np.array([sum((-1) ** k * (x - k + 1) ** k / math.factorial(k) for k in range(int(np.floor(x)) + 2))
                     for x in np.asarray(t, float)])


def test_exact_piecewise_polynomial_solution():
    ts = jnp.linspace(0.0, 5.0, 101)
    sol = solve_dde(LinearDelay(), None, [1.0], (0.0, 5.0), ts=ts, steps_per_delay=64)
    assert sol.ok
    np.testing.assert_allclose(sol["y"], exact_linear(ts), atol=1e-9)
    np.testing.assert_allclose(exact_linear([1.0, 2.0, 3.0]), [0.0, -0.5, -1 / 6], atol=1e-15)


@pytest.mark.parametrize("solver, order", [(diffrax.Heun(), 2), (diffrax.Bosh3(), 3), (diffrax.Tsit5(), 4)])
def test_convergence_order_at_fixed_step(solver, order):
    ts = jnp.linspace(0.0, 5.0, 51)
    errs = [float(np.max(np.abs(np.asarray(solve_dde(LinearDelay(), None, [1.0], (0.0, 5.0), ts=ts,
                                                         steps_per_delay=M, solver=solver)["y"]) - exact_linear(ts))))
            for M in (4, 8, 16, 32)]
    slope = np.polyfit(np.log([4, 8, 16, 32]), np.log(errs), 1)[0]
    assert abs(-slope - order) < 0.1, (errs, slope)


class TwoDelays(tj.DDEModel):
    """y' = -a1 y(t - tau1) - a2 y(t - tau2)."""

    state_names: ClassVar = ("y",)
    params_class: ClassVar = None
    nonnegative: ClassVar = False

    def vector_field(self, t, y, y_delayed, p):
        return -p.a1 * y_delayed[0] - p.a2 * y_delayed[1]

    def delays(self, p):
        return jnp.stack([p.tau1, p.tau2])


class TwoDelayParams(tj.Parameters):
    a1: float = tj.param(0.5, "1/day", "gain 1")
    a2: float = tj.param(0.5, "1/day", "gain 2")
    tau1: float = tj.param(1.0, "day", "delay 1", strict=True)
    tau2: float = tj.param(1.0, "day", "delay 2", strict=True)


TwoDelays.params_class = TwoDelayParams


def test_several_delays():
    ts = jnp.linspace(0.0, 5.0, 51)
    same = solve_dde(TwoDelays(), None, [1.0], (0.0, 5.0), ts=ts, steps_per_delay=64)
    np.testing.assert_allclose(same["y"], exact_linear(ts), atol=1e-9)  # two halves of one delay
    # tau2/tau1 not an integer: the y'' jump at t = tau2 falls inside a step, an O(h^3) local
    # error once, so the global error drops from O(h^4) to O(h^3) (documented in solve_dde).
    p = TwoDelayParams(tau1=0.7, tau2=1.9)
    ref = np.asarray(solve_dde(TwoDelays(), p, [1.0], (0.0, 5.0), ts=ts, steps_per_delay=512)["y"])
    errs = [np.max(np.abs(np.asarray(solve_dde(TwoDelays(), p, [1.0], (0.0, 5.0), ts=ts, steps_per_delay=M)["y"]) - ref))
            for M in (16, 32, 64)]
    # The constant depends on where t = tau2 falls inside its step, so the error is not
    # monotone in M; it stays under h^3-type bound 1/M^3 (a second-order method would not).
    assert all(e <= 1.0 / M**3 for e, M in zip(errs, (16, 32, 64))), errs


def test_callable_history_and_hutchinson_equilibrium():
    model = Hutchinson()
    p = model.default_params().replace(r=1.0, tau=1.0)  # r*tau < pi/2: N -> K
    hist = lambda t: jnp.array([0.5 + 0.1 * jnp.sin(t)])  # noqa: E731
    sol = solve_dde(model, p, hist, (0.0, 200.0), n_save=11)
    np.testing.assert_allclose(sol.final("N"), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sol["N"][0], 0.5, rtol=1e-12)


def test_vmap_over_tau_and_history_compiles_once_and_matches():
    model, p = Hutchinson(), Hutchinson().default_params()

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def finals(taus, N0):
        run = lambda tau, n0: solve_dde(model, p.replace(tau=tau), n0, (0.0, 30.0), n_save=2,  # noqa: E731
                                        n_intervals=60).ys[-1, 0]
        return jax.vmap(run)(taus, N0)

    taus = jnp.linspace(0.5, 1.5, 1000)
    N0 = jnp.linspace(0.1, 0.9, 1000)[:, None]
    out = finals(taus, N0)
    finals(taus[::-1], N0)  # new values, no retrace
    one = solve_dde(model, p.replace(tau=float(taus[123])), N0[123], (0.0, 30.0), n_save=2)
    # n_intervals = 60 covers [0, 60*tau] >= [0, 30]; the same step h = tau/32 gives the same numbers
    np.testing.assert_allclose(out[123], one.final("N"), rtol=1e-12)


def test_parameter_changes_never_recompile():
    model = Hutchinson()
    solve_dde(model, None, [0.5], (0.0, 10.0), n_intervals=12)
    before = eqx.debug.get_num_traces(_solve_impl)
    for tau in (0.9, 1.1):
        solve_dde(model, model.default_params().replace(tau=tau, r=0.5), [0.3], (0.0, 10.0), n_intervals=12)
    assert eqx.debug.get_num_traces(_solve_impl) == before


def test_bad_input_is_explained():
    model = Hutchinson()
    with pytest.raises(ValueError, match=r"tau .* must be > 0"):
        model.default_params().replace(tau=0.0)
    with pytest.raises(ValueError, match=r"history must have shape \(1,\)"):
        solve_dde(model, None, [0.5, 0.5], (0.0, 10.0))
    with pytest.raises(ValueError, match=r"history\(t\) must return shape \(1,\)"):
        solve_dde(model, None, lambda t: jnp.ones(3), (0.0, 10.0))
    with pytest.raises(ValueError, match=r"delay tau = 20 exceeds the horizon t1 - t0 = 10"):
        solve_dde(model, model.default_params().replace(tau=20.0), [0.5], (0.0, 10.0))
    with pytest.raises(ValueError, match="pass a static n_intervals"):
        jax.jit(lambda tau: solve_dde(model, model.default_params().replace(tau=tau), [0.5], (0.0, 10.0)).ys)(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        solve_dde(model, None, [-0.5], (0.0, 10.0))
    with pytest.raises(TypeError, match="DDEModel"):
        solve_dde(tj.TumourEffector(), None, [1.0, 1.0], (0.0, 1.0))
    with pytest.raises(ValueError, match=r"ts must lie in t_span = \(0.0, 10.0\), got ts from -5 to 30"):
        solve_dde(model, None, [0.5], (0.0, 10.0), ts=[-5.0, 0.0, 10.0, 30.0])


def test_max_delay_ratio_too_small_is_an_error():
    # delays 0.5 and 1.5 need max_delay_ratio >= 3; a smaller buffer would read overwritten history
    p = TwoDelayParams(tau1=0.5, tau2=1.5)
    with pytest.raises(ValueError, match=r"max_delay_ratio = 1.0 is below max\(tau\) / min\(tau\) = 3 "):
        solve_dde(TwoDelays(), p, [1.0], (0.0, 6.0), max_delay_ratio=1.0)
    ref = solve_dde(TwoDelays(), p, [1.0], (0.0, 6.0), n_save=7)

    def traced(tau2, ratio):
        return solve_dde(TwoDelays(), p.replace(tau2=tau2), [1.0], (0.0, 6.0), n_save=7, n_intervals=12,
                         max_delay_ratio=ratio).ys

    np.testing.assert_allclose(jax.jit(lambda t2: traced(t2, 3.0))(1.5), ref.ys, rtol=1e-12)
    with pytest.raises(eqx.EquinoxRuntimeError, match="max_delay_ratio is below"):
        eqx.filter_jit(traced)(jnp.asarray(1.5), 1.0).block_until_ready()


def test_span_ending_at_or_before_zero():
    # y' = -y(t - 0.7), y = 1 before t0 = -7: y(t0 + s) = sum_k (-1)^k (s - (k-1) tau)^k / k! over s > (k-1) tau
    tau, t0 = 0.7, -7.0
    p = LinearDelay().default_params().replace(tau=tau)
    for t1 in (0.0, -0.5):
        sol = solve_dde(LinearDelay(), p, [1.0], (t0, t1), n_save=11)
        s = np.asarray(sol.ts) - t0
        exact = [sum((-1) ** k * (x - (k - 1) * tau) ** k / math.factorial(k) for k in range(int(x / tau) + 2))
                 for x in s]
        assert sol.ok, sol.message
        np.testing.assert_allclose(sol["y"], exact, atol=1e-7)


class SqrtLag(tj.DDEModel):
    """y' = sqrt(y(t - 1)) - 2 from y = 1: y < 0 after t = 1, so the field is NaN after t = 2."""

    state_names: ClassVar = ("y",)
    params_class: ClassVar = tj.dde.LinearDelayParams
    nonnegative: ClassVar = False

    def vector_field(self, t, y, y_delayed, p):
        return jnp.sqrt(y_delayed[0]) - 2.0

    def delays(self, p):
        return jnp.reshape(p.tau, (1,))


def test_nan_gives_failed_status_and_says_when():
    sol = solve_dde(SqrtLag(), None, [1.0], (0.0, 4.0), steps_per_delay=16)
    assert sol.status == tj.Status.NONFINITE and not sol.ok
    assert 2.0 < float(sol.t_stop) <= 2.0 + 1 / 16 + 1e-12, sol.message
    assert "NONFINITE" in sol.message


def test_sweep_horizon_checks():
    model, p = LinearDelay(), LinearDelay().default_params()
    # y' = -100 y(t - 2.5) oscillates with growing amplitude and overflows after t = 400;
    # steps beyond t1 = 100 (n_intervals = 200 covers [0, 500]) must not fail the solve
    long = solve_dde(model, p.replace(a=100.0, tau=2.5), [1.0], (0.0, 100.0), n_intervals=200, n_save=11)
    ok = solve_dde(model, p.replace(a=100.0, tau=2.5), [1.0], (0.0, 100.0), n_save=11)
    assert ok.ok and long.ok, long.message
    np.testing.assert_allclose(long.ys, ok.ys, rtol=1e-12)
    # too few intervals to reach t1 is a failure, not a silent extrapolation
    short = solve_dde(Hutchinson(), None, [0.5], (0.0, 100.0), n_intervals=50)
    assert short.status == tj.Status.SHORT_HORIZON and float(short.t_stop) == 50.0
    assert "n_intervals" in short.message
