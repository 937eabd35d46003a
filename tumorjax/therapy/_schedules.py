"""Dosing schedules as differentiable pytrees, and their simulation.

Two families:

- [`BolusSchedule`][]: `k` doses of sizes `amounts` at `times`, each an instantaneous jump of
  one state (`state`), e.g. CAR-T cells added to C. Both the times and the amounts are leaves.
- [`InfusionSchedule`][]: a piecewise-constant infusion rate on a fixed grid of `edges`, the
  rates being leaves; simulated through the model's own `infusion`
  ([`tumorjax.PiecewiseConstant`][]), so it applies to models that take one (`TumourEffector`).
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core import PiecewiseConstant, simulate
from ..core._simulate import DEFAULT_TOLERANCES, check_n_save


class BolusSchedule(eqx.Module):
    """`k` instantaneous doses: `amounts[i]` added to state `state` at `times[i]`.

    **Arguments:**

    - `times`: dose times, shape `(k,)`, in the model's time units (sorted when simulated).
    - `amounts`: dose sizes, shape `(k,)`, in the units of the dosed state.
    - `state`: name of the dosed state (static).
    """

    times: Float[Array, " k"]
    amounts: Float[Array, " k"]
    state: str = eqx.field(static=True)

    def __init__(self, times, amounts, state: str):
        times, amounts = jnp.asarray(times, float), jnp.asarray(amounts, float)
        if times.ndim != 1 or times.shape != amounts.shape:
            raise ValueError(f"times and amounts must be 1D of the same length, got {times.shape} and {amounts.shape}")
        self.times, self.amounts, self.state = times, amounts, state

    @property
    def total(self):
        """Total dose, the sum of the amounts."""
        return jnp.sum(self.amounts)

    @property
    def doses(self):
        """The dose sizes (the quantity bounded by `max_dose`)."""
        return self.amounts


class InfusionSchedule(eqx.Module):
    """A piecewise-constant infusion: rate `rates[i]` on `[edges[i], edges[i+1])`, zero after `edges[-1]`.

    The edges are fixed (static), the rates are leaves: the family optimised in problem (a).

    **Arguments:**

    - `edges`: `k + 1` increasing switch times (a tuple of floats; static).
    - `rates`: infusion rate on each interval, shape `(k,)` (e.g. cells/day).
    """

    rates: Float[Array, " k"]
    edges: tuple = eqx.field(static=True)

    def __init__(self, edges, rates):
        edges = tuple(float(e) for e in np.asarray(edges, float).ravel())
        rates = jnp.asarray(rates, float)
        if rates.shape != (len(edges) - 1,):
            raise ValueError(f"rates must have shape ({len(edges) - 1},) for {len(edges)} edges, got {rates.shape}")
        if np.any(np.diff(edges) <= 0):
            raise ValueError(f"edges must be strictly increasing, got {edges}")
        self.edges, self.rates = edges, rates

    @property
    def widths(self):
        """Interval lengths, the weights of the rates in the total dose."""
        return jnp.diff(jnp.asarray(self.edges))

    @property
    def total(self):
        r"""Total dose $\int u\,dt = \sum_i$ `rates[i] * widths[i]`."""
        return jnp.sum(self.rates * self.widths)

    @property
    def doses(self):
        """The rates (the quantity bounded by `max_dose`, a maximum rate)."""
        return self.rates

    def as_input(self) -> PiecewiseConstant:
        """The schedule as a [`tumorjax.PiecewiseConstant`][] (zero from the last edge on)."""
        return PiecewiseConstant(jnp.asarray(self.edges), jnp.append(self.rates, 0.0))


def _segment(model, params, y, t_a, length, n_save, solver, rtol, atol, max_steps):
    r"""Solve from `t_a` for `length` time units in the rescaled time $s\in[0,1]$, $t = t_a + sL$.

    $dy/ds = L f(t_a + sL, y)$: the span is fixed, so the solution depends smoothly on both
    end points, and a zero-length segment (two doses at the same time) is harmless.
    """
    term = diffrax.ODETerm(lambda s, x, args: length * model.vector_field(t_a + s * length, x, params))
    s = jnp.linspace(0.0, 1.0, n_save)
    sol = diffrax.diffeqsolve(term, solver, 0.0, 1.0, None, y, None, saveat=diffrax.SaveAt(ts=s),
                              stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, dtmin=None),
                              max_steps=max_steps, throw=False)
    ok = sol.result == diffrax.RESULTS.successful
    return t_a + s * length, sol.ys, ok


def simulate_boluses(model, params, y0, schedule: BolusSchedule, horizon, *, n_save: int = 41, solver=None,
                     rtol=None, atol=None, max_steps: int = 16_384):
    r"""Simulate `model` over `[0, horizon]` with the doses of `schedule` as state jumps.

    The doses are sorted (with their amounts) and clipped to `[0, horizon]`; the `k + 1`
    segments `[0, t_1], [t_1, t_2], ..., [t_k, horizon]` are integrated in one `lax.scan`, the
    jump `y[state] += amounts[i]` applied at the start of segment `i`. Each segment is solved in
    rescaled time (see `_segment`), so the result is differentiable in the dose amounts and the
    dose times. Returns `(ts, ys, ok)`: `ts` of shape `((k+1)*n_save,)` (each dose time twice:
    before and after its jump), `ys` of shape `((k+1)*n_save, n_states)`, `ok` true when every
    segment was solved.
    """
    if model.jump_times() is not None:
        raise ValueError(f"{type(model).__name__} carries its own time-dependent infusion; "
                         "simulate boluses on a model without one")
    check_n_save(n_save)
    index = model.state_index(schedule.state)
    dtype = jnp.result_type(float)
    order = jnp.argsort(schedule.times)
    horizon = jnp.asarray(horizon, dtype)
    times = jnp.clip(schedule.times[order], 0.0, horizon)
    amounts = schedule.amounts[order]
    starts = jnp.concatenate([jnp.zeros(1, dtype), times])
    ends = jnp.concatenate([times, horizon[None]])
    jumps = jnp.concatenate([jnp.zeros(1, dtype), amounts])
    default_rtol, default_atol = DEFAULT_TOLERANCES[jnp.dtype(dtype)]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    solver = (diffrax.Kvaerno5() if model.stiff else diffrax.Tsit5()) if solver is None else solver

    def step(y, seg):
        t_a, t_b, jump = seg
        y = y.at[index].add(jump)
        ts, ys, ok = _segment(model, params, y, t_a, t_b - t_a, n_save, solver, rtol, atol, max_steps)
        return ys[-1], (ts, ys, ok)

    _, (ts, ys, ok) = jax.lax.scan(step, jnp.asarray(y0, dtype), (starts, ends, jumps))
    return ts.reshape(-1), ys.reshape(-1, ys.shape[-1]), jnp.all(ok)


def simulate_infusion(model, params, y0, schedule: InfusionSchedule, horizon, *, n_save: int = 121, **kwargs):
    """Simulate `model` with `schedule` as its time-dependent infusion over `[0, horizon]`.

    Uses [`tumorjax.simulate`][] on `eqx.tree_at`-replaced `model.infusion`, so the switch times
    are step-size jumps. Returns `(ts, ys, ok)` like [`simulate_boluses`][].
    """
    if not hasattr(model, "infusion"):
        raise ValueError(f"{type(model).__name__} takes no time-dependent infusion; use a BolusSchedule")
    model = eqx.tree_at(lambda m: m.infusion, model, schedule.as_input(), is_leaf=lambda x: x is None)
    sol = simulate(model, params, y0, (0.0, horizon), n_save=n_save, **kwargs)
    return sol.ts, sol.ys, sol.status == 0
