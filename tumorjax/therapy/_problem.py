r"""A schedule-optimisation problem: model, initial state, schedule family, constraints, objective.

Objectives (all dimensionless, to be minimised), with burden $B(t)$ the sum of `burden_states`:

- `"final"`: $B(H)/B(0)$, the burden left at the horizon $H$;
- `"auc"`: $\int_0^H B\,dt / (B(0)H)$, the area under the burden curve (trapezoid on the saved grid);
- `"ttp"`: $-\mathrm{TTP}_\varepsilon/H$, minus a smooth time to progression
  $\mathrm{TTP}_\varepsilon = \int_0^H \sigma\big((\ln P - \ln B(t))/\varepsilon\big)\,dt$, the time spent
  below the progression level $P$ with the indicator softened by a logistic $\sigma$ of width
  $\varepsilon$ in log-burden. For a burden that crosses $P$ once, at $t^\ast$, it tends to
  $t^\ast$ as $\varepsilon \to 0$ ($H$ if it never progresses); unlike $t^\ast$ it has a gradient;
- `"dose"`: no burden term; only the dose cost and the target below.

Added to it: the dose cost `dose_weight * total / dose_scale`, and, when `target` is set, the
exact penalty `target_weight * max(0, ln(B(H)/target))` for ending above the control threshold.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ..core._simulate import check_n_save, checked_params, initial_state
from ._constraints import Constraints
from ._schedules import BolusSchedule, InfusionSchedule, simulate_boluses, simulate_infusion

OBJECTIVES = ("final", "auc", "ttp", "dose")


def _trapezoid(y, t):
    return jnp.sum(0.5 * (y[1:] + y[:-1]) * jnp.diff(t))


class ScheduleProblem(eqx.Module):
    """What to optimise: the model, its start, the schedule family and constraints, the objective.

    **Arguments:**

    - `model`, `params`: an [`tumorjax.ODEModel`][] and its parameters.
    - `y0`: initial state (array or dict by state name), before any dose.
    - `constraints`: a [`Constraints`][] (horizon, number of doses, bounds; its `family` says
      whether doses are boluses or infusion rates).
    - `dosed_state`: the state a bolus adds to (boluses only), e.g. `"C"` for CAR-T cells.
    - `burden_states`: the states summed into the tumour burden, e.g. `("TA", "TB")`.
    - `objective`: one of `"final"`, `"auc"`, `"ttp"`, `"dose"` (see the module docstring).
    - `dose_weight`, `dose_scale`: the dose cost is `dose_weight * total / dose_scale`.
    - `target`, `target_weight`: optional control threshold on B(H) and its penalty weight.
    - `progression`, `ttp_width`: the progression level P and the width of the TTP surrogate.
    - `n_save`: saved points per segment (boluses) or in all (infusions), for the AUC and TTP.
    - `rtol`, `atol`: solver tolerances (default: `tumorjax.simulate`'s for the precision).
    """

    model: ODEModel
    params: eqx.Module
    y0: jax.Array
    constraints: Constraints = eqx.field(static=True)
    dosed_state: str | None = eqx.field(static=True)
    burden_states: tuple = eqx.field(static=True)
    objective: str = eqx.field(static=True)
    dose_weight: float = eqx.field(static=True)
    dose_scale: float = eqx.field(static=True)
    target: float | None = eqx.field(static=True)
    target_weight: float = eqx.field(static=True)
    progression: float | None = eqx.field(static=True)
    ttp_width: float = eqx.field(static=True)
    n_save: int = eqx.field(static=True)
    rtol: float | None = eqx.field(static=True)
    atol: float | None = eqx.field(static=True)

    def __init__(self, model, params, y0, constraints: Constraints, *, burden_states, dosed_state=None,
                 objective="final", dose_weight=0.0, dose_scale=None, target=None, target_weight=1.0,
                 progression=None, ttp_width=0.1, n_save=None, rtol=None, atol=None):
        self.params = checked_params(model, params, ODEModel)
        self.model = model
        self.y0 = initial_state(model, y0)
        if not isinstance(constraints, Constraints):
            raise TypeError(f"constraints must be a Constraints, got {type(constraints).__name__}")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; choose from {OBJECTIVES}")
        burden_states = (burden_states,) if isinstance(burden_states, str) else tuple(burden_states)
        for name in burden_states:
            model.state_index(name)  # ValueError naming the states
        if constraints.family == "bolus":
            if dosed_state is None:
                raise ValueError("a bolus schedule needs dosed_state, the state each dose adds to")
            model.state_index(dosed_state)
        elif dosed_state is not None:
            raise ValueError("dosed_state is for boluses; an infusion enters through the model's infusion")
        elif not hasattr(model, "infusion"):
            raise ValueError(f"{type(model).__name__} takes no time-dependent infusion; use boluses")
        if objective == "ttp" and not (progression and progression > 0):
            raise ValueError("objective 'ttp' needs progression > 0, the burden that counts as progression")
        if target is not None and not target > 0:
            raise ValueError(f"target must be > 0, got {target}")
        if objective == "dose" and not dose_weight > 0:
            raise ValueError("objective 'dose' minimises the dose cost: give dose_weight > 0")
        for name, v in (("dose_weight", dose_weight), ("target_weight", target_weight)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        for name, v in (("ttp_width", ttp_width), ("dose_scale", 1.0 if dose_scale is None else dose_scale)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v}")
        if n_save is not None:
            check_n_save(n_save)
        self.constraints, self.dosed_state, self.burden_states, self.objective = (
            constraints, dosed_state, burden_states, objective)
        self.dose_weight, self.target, self.target_weight = float(dose_weight), target, float(target_weight)
        unit = constraints.total or constraints.budget or constraints.max_dose or 1.0
        if constraints.family == "infusion" and not (constraints.total or constraints.budget):
            unit = unit * constraints.horizon
        self.dose_scale = float(unit if dose_scale is None else dose_scale)
        self.progression, self.ttp_width = progression, float(ttp_width)
        self.n_save = int(n_save if n_save is not None else 41 if constraints.family == "bolus" else 241)
        self.rtol, self.atol = rtol, atol

    # --- schedules -----------------------------------------------------------------------------
    @property
    def horizon(self) -> float:
        return self.constraints.horizon

    @property
    def time_units(self) -> str:
        return self.model.time_units

    @property
    def dose_unit(self) -> float:
        """Scale of one dose (infusion: one rate) that normalises the optimiser's variables."""
        c = self.constraints
        if c.max_dose:
            return float(c.max_dose)
        spread = c.n_doses if c.family == "bolus" else c.horizon
        return float((c.total or c.budget or self.dose_scale) / spread)

    def schedule(self, doses, times=None):
        """A schedule of this problem's family (times: boluses only; infusions use equal intervals)."""
        c = self.constraints
        if c.family == "infusion":
            return InfusionSchedule(np.linspace(0.0, c.horizon, c.n_doses + 1), doses)
        return BolusSchedule(times, doses, self.dosed_state)

    def encode(self, schedule) -> jax.Array:
        """The optimiser's variables: doses / dose_unit, then (boluses) times / horizon."""
        z = schedule.doses / self.dose_unit
        return z if self.constraints.family == "infusion" else jnp.concatenate([z, schedule.times / self.horizon])

    def decode(self, z):
        k = self.constraints.n_doses
        if self.constraints.family == "infusion":
            return self.schedule(z * self.dose_unit)
        return self.schedule(z[:k] * self.dose_unit, z[k:] * self.horizon)

    def even_schedule(self):
        """Equal doses (half the largest if the total is free) at equally spaced times from t = 0, projected."""
        c = self.constraints
        spread = c.n_doses if c.family == "bolus" else c.horizon
        level = (c.total or c.budget) / spread if (c.total or c.budget) else 0.5 * self.dose_unit
        times = None if c.family == "infusion" else jnp.linspace(0.0, c.horizon, c.n_doses + 1)[:-1]
        return c.project(self.schedule(jnp.full(c.n_doses, level), times))

    # --- simulation and objective --------------------------------------------------------------
    # Jitted so that calls outside the optimisers (reports, figures) compile once per problem
    # structure rather than once per call; inside a jitted loop they are ordinary nested calls.
    @eqx.filter_jit
    def simulate(self, schedule):
        """`(ts, ys, ok)` over `[0, horizon]` with `schedule` applied."""
        kw = {"n_save": self.n_save, "rtol": self.rtol, "atol": self.atol}
        if self.constraints.family == "infusion":
            return simulate_infusion(self.model, self.params, self.y0, schedule, self.horizon, **kw)
        return simulate_boluses(self.model, self.params, self.y0, schedule, self.horizon, **kw)

    def burden(self, ys):
        """Tumour burden: the sum of `burden_states` along the last axis of `ys`."""
        return sum(ys[..., self.model.state_index(n)] for n in self.burden_states)

    @eqx.filter_jit
    def terms(self, schedule) -> dict:
        """Every objective term of `schedule` (one simulation): final, auc, ttp, dose, target excess, ok."""
        ts, ys, ok = self.simulate(schedule)
        B = self.burden(ys)
        B0 = self.burden(self.y0)
        B0 = jnp.where(B0 > 0, B0, 1.0)
        out = {"final": B[-1] / B0, "auc": _trapezoid(B, ts) / (B0 * self.horizon),
               "dose": schedule.total / self.dose_scale, "final_burden": B[-1], "ok": ok}
        if self.progression:
            below = jax.nn.sigmoid((jnp.log(self.progression) - jnp.log(jnp.maximum(B, 1e-300))) / self.ttp_width)
            out["ttp"] = _trapezoid(below, ts)
        excess = jnp.log(jnp.maximum(B[-1], 1e-300) / self.target) if self.target else jnp.zeros_like(B[-1])
        out["target_excess"] = jnp.maximum(excess, 0.0)
        return out

    def loss(self, schedule, terms=None):
        """The objective value of `schedule` (see the module docstring)."""
        t = self.terms(schedule) if terms is None else terms
        main = {"final": t["final"], "auc": t["auc"], "dose": 0.0}.get(self.objective)
        if self.objective == "ttp":
            main = -t["ttp"] / self.horizon
        return main + self.dose_weight * t["dose"] + self.target_weight * t["target_excess"]
