"""Amplitude, period and decay of oscillations measured from a simulated time series."""

import jax.numpy as jnp


def oscillation_metrics(ts, x, t_min):
    """Amplitude, period and envelope ratio of `x(t)` over `t >= t_min`.

    Pure JAX (fixed shapes), so it vmaps over a sweep of solutions.

    **Returns** a dict with
    - `amplitude`: half the peak-to-peak range over the window;
    - `period`: mean spacing of upward crossings of the window's mid-range, interpolated
      linearly between save points (NaN with fewer than two crossings);
    - `growth`: range over the window's second half divided by range over its first half:
      below 1 a damped oscillation, about 1 a limit cycle; 0 once the first half is flat
      to rounding error (fully decayed).
    """
    ts, x = jnp.asarray(ts), jnp.asarray(x)
    win = ts >= t_min
    t_mid = (t_min + ts[-1]) / 2
    first, second = win & (ts < t_mid), ts >= t_mid

    def rng(mask):
        return jnp.max(jnp.where(mask, x, -jnp.inf)) - jnp.min(jnp.where(mask, x, jnp.inf))

    level = (jnp.max(jnp.where(win, x, -jnp.inf)) + jnp.min(jnp.where(win, x, jnp.inf))) / 2
    a, b = x[:-1] - level, x[1:] - level
    up = win[:-1] & (a < 0) & (b >= 0)
    t_cross = ts[:-1] + (ts[1:] - ts[:-1]) * (-a / jnp.where(up, b - a, 1.0))
    n = jnp.sum(up)
    t_first = jnp.min(jnp.where(up, t_cross, jnp.inf))
    t_last = jnp.max(jnp.where(up, t_cross, -jnp.inf))
    period = jnp.where(n >= 2, (t_last - t_first) / jnp.maximum(n - 1, 1), jnp.nan)
    # A window that has decayed to rounding error has no envelope to compare: call it 0.
    floor = 1e-12 * jnp.maximum(jnp.max(jnp.where(win, jnp.abs(x), 0.0)), jnp.finfo(x.dtype).tiny)
    r1 = rng(first)
    growth = jnp.where(r1 <= floor, 0.0, rng(second) / jnp.where(r1 <= floor, 1.0, r1))
    return {"amplitude": rng(win) / 2, "period": period, "growth": growth}
