r"""Problem (c): the times (and sizes) of wide virus re-injections into the radial PDE (2.8) of seed 004.

An injection at time $T$ with fraction $f$ infects a share $f$ of the uninfected cells everywhere,
$u \leftarrow (1-f)u$, $i \leftarrow i + fu$ (the wide injection of Figs. 11-12). `Protocol` applies it
at the nearest step of the fixed step grid, so a solve depends on $T$ piecewise constantly. Here the
survival factor is split between the two nodes around $T$: with $T/\Delta t = n + \theta$,
$0 \le \theta < 1$, the cells at $t_n$ are scaled by $(1-f)^{1-\theta}$ and those at $t_{n+1}$ by
$(1-f)^{\theta}$ (a hat-function spreading of the jump, as in cloud-in-cell). The solve is then
continuous and piecewise smooth in $T$, equal to `Protocol`'s when $T$ is a node; its derivative is
the one-step difference of injecting at $t_{n+1}$ rather than at $t_n$ (a first-order approximation;
at a node it is the right-hand one, and on a coarse grid the left and right ones can differ by tens
of per cent), and any number of injections costs one solve. $u + i$ is unchanged by a jump, so the
burden $U + I$ is continuous in time.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..oncolytic import OncolyticParams, OVState, Protocol, RadialConfig, solve_radial, threshold_sweep
from ..oncolytic._radial import _STEPS, choose_step
from ._constraints import Constraints
from ._problem import ScheduleProblem, _trapezoid
from ._schedules import BolusSchedule


def simulate_injections(params: OncolyticParams, config: RadialConfig, y0: OVState, schedule: BolusSchedule,
                        horizon: float, dt: float, n_sub: int):
    r"""Solve (2.8) from `y0` over `[0, horizon]` [h] with the injections of `schedule`, smooth in the times.

    `schedule.times` are the injection times [h] (clipped to `[0, horizon]`), `schedule.amounts`
    the fractions $f < 1$ of uninfected cells each infects (see the module docstring). `dt` [h]
    and `n_sub` (steps per save) come from [`tumorjax.oncolytic.RadialConfig`][]'s step choice;
    totals are saved every `n_sub * dt` hours. Returns `(ts, totals, ok)`: `totals[:, 0]` is
    $U(t) = 2\pi\int u\,r\,dr$, `totals[:, 1]` is $I(t)$, `ok` is true when every value stayed
    finite and non-negative. Differentiable in the times, the fractions and `params`.
    """
    step_fn = _STEPS[(config.scheme, config.mode)]
    n_saves = int(round(horizon / (dt * n_sub)))
    x = jnp.clip(schedule.times, 0.0, horizon) / dt
    node = jnp.floor(x)
    theta = x - node  # floor has no gradient: d theta / dT = 1 / dt, also at a node
    log_survival = jnp.log1p(-schedule.amounts)

    def jump(y, n):
        """The share of every injection that falls on node n."""
        w = jnp.where(node == n, 1 - theta, 0.0) + jnp.where(node + 1 == n, theta, 0.0)
        s = jnp.exp(jnp.sum(w * log_survival))
        return y._replace(u=s * y.u, i=y.i + (1 - s) * y.u)

    def step(carry, _):
        y, n = carry
        y = jump(step_fn(y, params, params.zeta, dt, config), n + 1)
        return (y, n + 1), None

    @jax.checkpoint
    def interval(carry, _):
        carry, _ = jax.lax.scan(step, carry, None, length=n_sub)
        y = carry[0]
        return carry, jnp.stack([config.total(y.u), config.total(y.i), jnp.min(jnp.stack(y))])

    y = jump(OVState(*(jnp.asarray(v) for v in y0)), 0)
    first = jnp.stack([config.total(y.u), config.total(y.i), jnp.min(jnp.stack(y))])
    _, out = jax.lax.scan(interval, (y, jnp.asarray(0.0)), None, length=n_saves)
    out = jnp.concatenate([first[None], out])
    ok = jnp.all(jnp.isfinite(out)) & (jnp.min(out[:, 2]) >= 0)
    return jnp.arange(n_saves + 1) * (dt * n_sub), out[:, :2], ok


class InjectionProblem(eqx.Module):
    """Problem (c): when (and how much) to re-inject virus into the radial PDE (2.8), from a given state.

    Duck-typed like [`ScheduleProblem`][] (same schedule family, encoding and `terms`/`loss`), so
    [`optimize_schedule`][] and [`grid_search`][] take it. The schedule is a [`BolusSchedule`][] on
    state `"i"` whose amounts are the infected fractions $f_j$.

    **Arguments:**

    - `params`, `config`: Table-2 parameters and the radial grid (an `fv` scheme; the step from
      `choose_step`, fixed here because the parameters are concrete).
    - `y0`: the fields at t = 0 (the start of the optimised horizon).
    - `constraints`: a bolus [`Constraints`][] on the fractions (each < 1) and times [h].
    - `objective`: `"auc"`, $\\int_0^H (U+I)\\,dt / ((U+I)(0)\\,H)$, or `"final"`, $(U+I)(H)/(U+I)(0)$.
    """

    params: OncolyticParams
    y0: OVState
    constraints: Constraints = eqx.field(static=True)
    config: RadialConfig = eqx.field(static=True)
    objective: str = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    n_sub: int = eqx.field(static=True)
    dosed_state: str = eqx.field(static=True, default="i")
    burden_states: tuple = eqx.field(static=True, default=("U_total", "I_total"))
    target: float | None = eqx.field(static=True, default=None)  # no control threshold (the CLI plot asks)
    time_units: str = eqx.field(static=True, default="h")

    def __init__(self, params, config, y0, constraints, *, objective="auc"):
        if not isinstance(params, OncolyticParams):
            raise ValueError(f"params must be OncolyticParams, got {type(params).__name__}")
        if config.scheme != "fv":
            raise ValueError("the injection problem uses the finite-volume scheme (scheme='fv')")
        if objective not in ("auc", "final"):
            raise ValueError(f"unknown objective {objective!r} for the injection problem; "
                             "choose 'auc' or 'final'")
        if not (isinstance(constraints, Constraints) and constraints.family == "bolus"):
            raise ValueError("the injection problem needs bolus Constraints (injection times and fractions)")
        if constraints.max_dose is None or not constraints.max_dose < 1:
            raise ValueError(f"max_dose (largest infected fraction) must be given and < 1, got "
                             f"{constraints.max_dose}: f = 1 empties u, and (1 - f)^theta has no derivative "
                             "in the time there")
        dt, n_sub = choose_step(params, config)
        n_saves = constraints.horizon / config.save_every
        if abs(n_saves - round(n_saves)) > 1e-9:
            raise ValueError(f"horizon = {constraints.horizon:g} h must be a multiple of save_every = "
                             f"{config.save_every:g} h")
        if y0.u.shape[-1] != config.N:
            raise ValueError(f"y0 has {y0.u.shape[-1]} cells, the grid {config.N}")
        self.params, self.config, self.y0, self.constraints = params, config, y0, constraints
        self.objective = objective
        self.dt, self.n_sub = dt, n_sub

    # the schedule family and its encoding are those of a bolus ScheduleProblem
    horizon = ScheduleProblem.horizon
    dose_unit = ScheduleProblem.dose_unit
    schedule = ScheduleProblem.schedule
    encode = ScheduleProblem.encode
    decode = ScheduleProblem.decode
    even_schedule = ScheduleProblem.even_schedule

    @eqx.filter_jit  # as ScheduleProblem's: eager calls compile once per problem structure
    def simulate(self, schedule):
        """`(ts, totals, ok)` over `[0, horizon]`, totals = (U, I) (see [`simulate_injections`][])."""
        return simulate_injections(self.params, self.config, self.y0, schedule, self.horizon, self.dt,
                                   self.n_sub)

    def burden(self, totals):
        """Tumour burden U + I [cells]."""
        return totals[..., 0] + totals[..., 1]

    @eqx.filter_jit
    def terms(self, schedule) -> dict:
        """final, auc (normalised), burden_integral (cells h, like `threshold_sweep`'s), final_burden, ok."""
        ts, totals, ok = self.simulate(schedule)
        B = self.burden(totals)
        integral = _trapezoid(B, ts)
        return {"final": B[-1] / B[0], "auc": integral / (B[0] * self.horizon), "burden_integral": integral,
                "final_burden": B[-1], "dose": schedule.total, "ok": ok}

    def loss(self, schedule, terms=None):
        """The objective value of `schedule`."""
        return (self.terms(schedule) if terms is None else terms)[self.objective]


#: the Fig. 12 set-up: strong immune response, wide infection at t = -500 h.
FIG12 = dict(zeta=5.0, R_u=2.6, R_i=2.6, t_start=-500.0)


def oncolytic_injections(n_doses: int = 3, horizon: float = 3000.0, *, fraction: float = 0.3,
                         total: float | None = None, max_dose: float | None = None, min_interval: float = 0.0,
                         objective: str = "auc", N: int = 50, L: float = 10.0, dt: float = 0.25,
                         save_every: float = 1.0) -> InjectionProblem:
    r"""(c) Time `n_doses` wide virus re-injections into the radial PDE (2.8) (seed 004, Fig. 12 set-up).

    Table-2 parameters with $\zeta = 5$ (strong response); a wide infection ($R_i = R_u = 2.6$ mm)
    at $t = -500$ h, as in Fig. 12, is solved up to $t = 0$ once, and the re-injections are placed
    in `[0, horizon]`, at least `min_interval` h apart, to minimise the time-integrated burden
    $\int_0^H (U+I)\,dt$ (`"auc"`, Fig. 12b's quantity) or the final one (`"final"`). By default each
    injection infects `fraction` = 30 % of the uninfected cells (Fig. 12) and only the times are
    optimised; with `total` or `max_dose` the fractions are free too, in `[0, max_dose]` (default
    0.9) summing to `total` (default `n_doses * fraction`); a [`grid_search`][] over the times alone
    takes `n_levels = n_doses` (its one even split). Coarse grid: IMEX, `N` cells on
    `[0, L]`, step `dt` h (a 3000-h solve takes about 0.05 s on one CPU core).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    free = total is not None or max_dose is not None
    total = n_doses * fraction if total is None else total
    max_dose = (0.9 if free else total / n_doses) if max_dose is None else max_dose
    c = Constraints(horizon=float(horizon), n_doses=int(n_doses), total=float(total),
                    max_dose=float(max_dose), min_interval=float(min_interval))
    params = OncolyticParams(zeta=FIG12["zeta"])
    config = RadialConfig(L=L, N=N, mode="imex", dt=dt, save_every=save_every)
    y0 = solve_radial(params, config, 0.0, t0=FIG12["t_start"], R_u=FIG12["R_u"], R_i=FIG12["R_i"]).final
    return InjectionProblem(params, config, y0, c, objective=objective)


def threshold_rule(problem: InjectionProblem, thresholds=None, fraction: float | None = None) -> dict:
    r"""The Fig. 12 rule on the problem's grid: inject whenever $U \ge U_{thr}$, for each threshold.

    One vmapped [`tumorjax.oncolytic.threshold_sweep`][] from t = -500 h (default thresholds:
    41 log-spaced from $10^4$ to $10^6$ cells; default fraction: the problem's mean fraction).
    Returns the sweep (`threshold`, `burden` = $\int_0^H(U+I)\,dt$ [cells h], `auc` normalised as
    the problem's objective, `injections` in $(0, H]$, `mean_interval_h`) and `best_same_count`:
    the threshold with the smallest burden among those giving exactly `n_doses` injections
    (the same number and, at equal fractions, the same total injected fraction), or None.
    """
    c = problem.constraints
    thresholds = np.geomspace(1e4, 1e6, 41) if thresholds is None else np.asarray(thresholds, float)
    fraction = c.total / c.n_doses if fraction is None else fraction
    sweep = threshold_sweep(thresholds, problem.params, problem.config, t_end=problem.horizon,
                            t0=FIG12["t_start"], R_u=FIG12["R_u"], R_i=FIG12["R_i"], fraction=fraction)
    B0 = float(problem.config.total(problem.y0.u + problem.y0.i))
    out = {"threshold": sweep["threshold"], "burden": sweep["burden"],
           "auc": sweep["burden"] / (B0 * problem.horizon),
           "injections": sweep["injections"], "mean_interval_h": sweep["mean_interval_h"],
           "fraction": fraction, "ok": bool(np.all(sweep["status"] == 0))}
    same = np.flatnonzero(sweep["injections"] == c.n_doses)
    best = same[np.argmin(sweep["burden"][same])] if same.size else None
    out["best_same_count"] = None if best is None else {k: out[k][best] for k in
                                                         ("threshold", "burden", "auc", "injections",
                                                          "mean_interval_h")}
    return out


def threshold_schedule(problem: InjectionProblem, threshold: float,
                       fraction: float | None = None) -> BolusSchedule:
    r"""The injection times $T_1 < T_2 < \dots$ in $(0, H]$ that the Fig. 12 rule with `threshold` produces.

    `Protocol` reports only the number of triggers and the first and last triggered times, so one
    solve counts them and they are then found one by one: solve with the times found so far as fixed
    injections and the rule active after the last of them; its first trigger is the next time (one
    solve per injection, all of one shape: two compilations in all). On the step grid, so
    [`simulate_injections`][] reproduces the rule's solution exactly.
    """
    c = problem.constraints
    fraction = c.total / c.n_doses if fraction is None else fraction

    def solve(times, start):
        protocol = Protocol(t_injections=times, fraction=fraction, threshold=threshold, t_threshold_start=start)
        return solve_radial(problem.params, problem.config, problem.horizon,
                            t0=FIG12["t_start"], R_u=FIG12["R_u"], R_i=FIG12["R_i"], protocol=protocol)

    times = np.full(1, np.inf)
    n = int(solve(jnp.asarray(times), jnp.asarray(0.0)).n_injections)
    times = np.full(max(n, 1), np.inf)
    for k in range(n):
        t = float(solve(jnp.asarray(times), jnp.asarray(times[k - 1] if k else 0.0)).t_first_injection)
        if not np.isfinite(t):
            raise RuntimeError(f"threshold {threshold:g}: found {k} of the rule's {n} injections")
        times[k] = t
    return BolusSchedule(times[:n], np.full(n, fraction), "i")
