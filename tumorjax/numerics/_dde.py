"""Constant-delay DDEs by the method of steps on diffrax Runge-Kutta steps.

The step is h = tau_min / steps_per_delay, so every propagated discontinuity t0 + j*tau_min
of the main delay falls on a step boundary. Delayed states come from a dense history: a
ring buffer of the last grid values and derivatives, read by cubic Hermite interpolation
(exact at grid points, O(h^4) between them), and the history function before t0. Each
step is a diffrax explicit RK step (`solver.step`), one `lax.scan` over all steps; the
delays are traced, so the solve vmaps over them and differentiates with respect to them.
"""

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._model import DDEModel
from ..core._precision import resolve_dtype
from ..core._params import is_concrete
from ..core._simulate import checked_params, initial_state, time_grid
from ..core._solution import Solution, Status


class ConstantHistory(eqx.Module):
    """The history y(t) = value for t <= t0."""

    value: jax.Array

    def __call__(self, t):
        return self.value


def hermite(y0, y1, f0, f1, h, theta):
    """Cubic Hermite interpolant on a step of length h at fraction theta in [0, 1]."""
    t2, t3 = theta**2, theta**3
    return ((2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + theta) * h * f0
            + (3 * t2 - 2 * t3) * y1 + (t3 - t2) * h * f1)


@eqx.debug.assert_max_traces(max_traces=None)
def _solve_impl(model, params, history, t0, t_end, ts, solver, M, K, L):
    taus = model.delays(params)
    tau0 = jnp.min(taus)
    h = tau0 / M
    lag = M * taus / tau0  # delays in steps (exactly M for the main delay)
    # the ring buffer holds L steps: a longer delay (traced, max_delay_ratio too small) would read overwritten values
    lag = eqx.error_if(lag, jnp.max(lag) > L - 1.5, "max_delay_ratio is below max(tau) / min(tau): the history "
                       "buffer is too short for the longest delay")
    N = M * K

    def delayed(t, Yb, Fb, i):
        u = (t - t0) / h - lag  # grid coordinate of each t - tau_k
        g = jnp.minimum(jnp.floor(u), i - 1)
        theta = u - g
        g = g.astype(jnp.int32)
        a, b = jnp.mod(g, L), jnp.mod(g + 1, L)
        inside = hermite(Yb[a], Yb[b], Fb[a], Fb[b], h, theta[:, None])
        before = jax.vmap(history)(t - taus)
        return jnp.where((u >= 0)[:, None], inside, before)

    def vf(t, y, args):
        return model.vector_field(t, y, delayed(t, *args), params)

    term = diffrax.ODETerm(vf)
    y0 = history(t0)
    zeros = jnp.zeros((L,) + y0.shape, y0.dtype)
    f0 = vf(t0, y0, (zeros, zeros, 0))
    Yb, Fb = zeros.at[0].set(y0), zeros.at[0].set(f0)
    state0 = solver.init(term, t0, t0 + h, y0, (Yb, Fb, 0))

    def step(carry, i):
        y, Yb, Fb, state = carry
        t_i, t_next = t0 + i * h, t0 + (i + 1) * h
        y1, _, _, state, _ = solver.step(term, t_i, t_next, y, (Yb, Fb, i), state, made_jump=False)
        f1 = vf(t_next, y1, (Yb, Fb, i + 1))
        k = jnp.mod(i + 1, L)
        return (y1, Yb.at[k].set(y1), Fb.at[k].set(f1), state), (y1, f1)

    _, (Ys, Fs) = jax.lax.scan(step, (y0, Yb, Fb, state0), jnp.arange(N))
    Y, F = jnp.concatenate([y0[None], Ys]), jnp.concatenate([f0[None], Fs])

    u = (ts - t0) / h
    g = jnp.clip(jnp.floor(u), 0, N - 1).astype(jnp.int32)
    ys = hermite(Y[g], Y[g + 1], F[g], F[g + 1], h, (u - g)[:, None])
    # Steps past t_end (a sweep shares n_intervals across delays) do not count.
    t_grid = t0 + jnp.arange(N + 1) * h
    row_finite = jnp.all(jnp.isfinite(Y), axis=1) | (t_grid > t_end + h)
    bad = ~jnp.all(row_finite)
    short = t0 + N * h < t_end - 1e-12 * (t_end - t0)
    t_stop = jnp.where(bad, t_grid[jnp.argmin(row_finite)], jnp.where(short, t0 + N * h, t_end))
    status = jnp.select([bad, short], [Status.NONFINITE, Status.SHORT_HORIZON], Status.SUCCESS).astype(jnp.int32)
    return Solution(ts=ts, ys=ys, status=status, t_stop=t_stop, stats={"num_steps": N, "step": h},
                    state_names=model.state_names)


_solve = eqx.filter_jit(_solve_impl)


def solve_dde(
    model: DDEModel,
    params=None,
    history=None,
    t_span=(0.0, 1.0),
    *,
    ts=None,
    n_save: int = 201,
    steps_per_delay: int = 32,
    n_intervals: int | None = None,
    max_delay_ratio: float | None = None,
    solver: diffrax.AbstractERK | None = None,
    dtype=None,
    throw: bool = False,
) -> Solution:
    """Solve a constant-delay DDE from a history over `t_span`.

    **Arguments:**

    - `model`, `params`: a [`tumorjax.DDEModel`][] and its parameters (delays included).
    - `history`: y(t) for t <= t0: an array `(n_states,)` (constant), a dict by state name,
      or a callable `t -> (n_states,)` (an `equinox.Module` to vmap or differentiate it).
    - `t_span`, `ts`, `n_save`: horizon and save times (as in [`tumorjax.simulate`][]).
    - `steps_per_delay`: steps per shortest delay (static); the step is `tau_min / steps_per_delay`.
    - `n_intervals`: number of delay intervals to integrate (static). Default
      `ceil((t1 - t0) / tau_min)` from concrete values; pass it when the delays are traced
      (under `vmap` or `grad`), computed from the smallest delay of the sweep.
    - `max_delay_ratio`: largest `tau_k / tau_min` (static; default from concrete delays; 1 for
      a single delay). Sizes the history ring buffer: a smaller value than the delays need raises a
      `ValueError` (concrete delays) or an `EquinoxRuntimeError` (traced).
    - `solver`: a diffrax explicit Runge-Kutta solver, used at fixed step (default `Tsit5`).

    Differentiation: reverse mode (`jax.grad`) works with the default solver. Forward mode
    (`jax.jvp`, `jax.jacfwd`) needs `solver=diffrax.Tsit5(scan_kind="bounded")`, because the
    default stage loop of diffrax's RK solvers is reverse-mode only. For a few parameters it is
    the cheaper one: 3 tangents cost about 3 solves, reverse mode about 30 (its backward loop is
    not one compiled kernel); `tumorjax.calibration.forward_gradient` gives `jax.grad` that rule.

    Order: the solver's order, capped at 4 by the cubic Hermite history. Several delays
    whose ratios are not integers put discontinuities inside steps, reducing the order.
    """
    params = checked_params(model, params, DDEModel)
    dtype = resolve_dtype(dtype)
    params = params.astype(dtype)
    n = model.n_states
    if history is None:
        raise ValueError(f"history is required: y(t) for t <= t0, states {model.state_names}")
    if not callable(history):
        history = ConstantHistory(initial_state(model, history, dtype, what="history"))
    else:
        shape = jax.eval_shape(history, jnp.asarray(0.0, dtype)).shape
        if shape != (n,):
            raise ValueError(f"history(t) must return shape ({n},) for the states {model.state_names}, got {shape}")
    if not (isinstance(steps_per_delay, int) and steps_per_delay >= 1):
        raise ValueError(f"steps_per_delay must be a positive int, got {steps_per_delay!r}")
    t0, t1, ts = time_grid(t_span, ts, n_save, dtype)
    taus = model.delays(params)
    if is_concrete(taus):
        tv = np.atleast_1d(np.asarray(taus, dtype=float))
        if np.any(~np.isfinite(tv)) or np.any(tv <= 0):
            raise ValueError(f"delays must be positive, got tau = {tv.tolist()}")
    if is_concrete(t0, t1, taus) and np.max(tv) > float(t1 - t0):
        raise ValueError(
            f"delay tau = {np.max(tv):g} exceeds the horizon t1 - t0 = {float(t1 - t0):g}: the delayed "
            "term would only ever read the history; lengthen t_span"
        )
    if n_intervals is None:
        if not is_concrete(taus, t0, t1):
            raise ValueError("the delays or t_span are traced (vmap/grad): pass a static n_intervals, "
                             "e.g. ceil((t1 - t0) / smallest tau of the sweep)")
        n_intervals = math.ceil(float(t1 - t0) / float(np.min(tv)) - 1e-9)
    ratio = float(np.max(tv) / np.min(tv)) if is_concrete(taus) else None
    if max_delay_ratio is None:
        if taus.shape[0] == 1:
            max_delay_ratio = 1.0
        elif ratio is not None:
            max_delay_ratio = ratio
        else:
            raise ValueError("several traced delays: pass a static max_delay_ratio (largest tau / smallest tau)")
    if ratio is not None and max_delay_ratio < ratio * (1 - 1e-12):
        raise ValueError(f"max_delay_ratio = {max_delay_ratio!r} is below max(tau) / min(tau) = {ratio:.12g} of the "
                         f"delays {tv.tolist()}: pass max_delay_ratio >= {ratio:.12g} or leave it None")
    L = steps_per_delay * math.ceil(max_delay_ratio - 1e-12) + 2
    solver = diffrax.Tsit5() if solver is None else solver
    sol = _solve(model, params, history, t0, t1, ts, solver, steps_per_delay, int(n_intervals), L)
    if throw and is_concrete(sol.status):
        sol.raise_if_failed()
    return sol
