"""Worked schedule problems with the papers' parameters (presets shared by the CLI, tests, benchmark, notebook)."""

import jax.numpy as jnp
import numpy as np

from ..cart import NORMALISED, CARTHomogeneous
from ..core import simulate
from ..ode import TumourEffector
from ..ode._thresholds import minimum_dose
from ._constraints import Constraints
from ._oncolytic import oncolytic_injections
from ._problem import ScheduleProblem

#: the seed-000 tumour-effector parameters of the therapy section (Michaelis-Menten killing).
SEED000_THERAPY = dict(r=0.2, k=1.0, theta=1e7, s=1e4, delta=0.1)


def infusion_control(n_doses: int = 4, horizon: float = 60.0, *, T0: float = 1e5, E0: float = 1e5,
                     target: float | None = None, max_dose: float | None = None, total: float | None = None,
                     objective: str = "dose", min_interval: float = 0.0, **kwargs) -> ScheduleProblem:
    r"""(a) The cheapest piecewise-constant infusion that drives the seed-000 tumour below a threshold.

    Model: `TumourEffector(killing="michaelis_menten", proliferation="saturating")` with
    $r = 0.2$, $k = 1$, $\theta = 10^7$, $s = 10^4$, $\delta = 0.1$ (seed 000, Therapeutic
    Implications), for which $u_{min} = r\theta\delta/k - s = 1.9\times10^5$ cells/day. The tumour
    starts at `T0` = $10^5$ cells with the tumour-free effector level `E0` = $s/\delta$. Schedule:
    `n_doses` equal intervals over `[0, horizon]`, a rate in `[0, max_dose]` on each (default
    `max_dose` $= 3u_{min}$). Objective `"dose"`: the total $\int u\,dt$ in units of $u_{min}H$,
    plus the exact penalty $\max(0, \ln(T(H)/T_c))$ for ending above `target` $T_c$ (default `T0`);
    its weight 1 exceeds the constraint's multiplier (about 0.1 here: a 1 % dose cut raises
    $\ln T(H)$ by about 0.1), so a minimiser meets the target, while a larger weight would make
    Adam overshoot the sharp $\ln T(H)$ after each crossing.
    $u_{min}$ is a local threshold: with saturating killing a constant $u_{min}$ leaves this
    tumour growing (the system is bistable), so the comparison is with both $u_{min}H$ and the
    cheapest constant rate that meets the target ([`constant_infusion_baseline`][]).
    """
    model = TumourEffector(killing="michaelis_menten", proliferation="saturating")
    params = model.default_params().replace(**SEED000_THERAPY)
    u_min = float(minimum_dose(model, params))
    c = Constraints(horizon=float(horizon), n_doses=int(n_doses), total=total,
                    max_dose=3 * u_min if max_dose is None else max_dose, min_interval=min_interval,
                    family="infusion")
    return ScheduleProblem(model, params, {"T": T0, "E": E0}, c, burden_states=("T",), objective=objective,
                           dose_weight=kwargs.pop("dose_weight", 1.0 if objective == "dose" else 0.0),
                           dose_scale=u_min * horizon, target=T0 if target is None else target,
                           progression=kwargs.pop("progression", 2 * T0), **kwargs)


def constant_infusion_baseline(problem: ScheduleProblem, n_bisect: int = 30) -> dict:
    r"""The constant-dose references for problem (a): $u_{min}H$ and the cheapest constant rate meeting the target.

    The second is found by bisection on $u \in [0, $ `max_dose`$]$ (`n_bisect` simulations, the
    final burden being decreasing in $u$ here); its total is $uH$. Burden and tolerances are the
    problem's. `target_met` is False (and `constant_rate`, `constant_total` None) when even
    `max_dose` ends above the target.
    """
    if problem.target is None:
        raise ValueError("the constant-dose baseline needs a problem with a target")
    model, p, H = problem.model, problem.params, problem.horizon
    u_min = float(minimum_dose(model, p))

    def final(u):
        sol = simulate(model, p.replace(u=u), problem.y0, (0.0, H), n_save=2, rtol=problem.rtol, atol=problem.atol)
        return float(problem.burden(sol.ys[-1]))

    lo, hi = 0.0, float(problem.constraints.max_dose or 10 * u_min)
    top = final(hi)
    out = {"u_min": u_min, "u_min_total": u_min * H, "u_min_final_burden": final(u_min), "target": problem.target,
           "target_met": top <= problem.target, "constant_rate": None, "constant_total": None,
           "constant_final_burden": top, "n_simulations": 2}
    if not out["target_met"]:
        return out
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if final(mid) <= problem.target else (mid, hi)
    return out | {"constant_rate": hi, "constant_total": hi * H, "constant_final_burden": final(hi),
                  "n_simulations": n_bisect + 3}


def cart_split_dose(n_doses: int = 3, horizon: float = 30.0, *, total: float = 0.1, max_dose: float | None = None,
                    min_interval: float = 1.0, objective: str = "final", TA0: float = 0.5, **kwargs) -> ScheduleProblem:
    r"""(b) Split a fixed CAR-T dose into `n_doses` boluses and time them (seed 003, homogeneous model).

    Model: [`tumorjax.cart.CARTHomogeneous`][] with the `NORMALISED` parameters (densities in
    units of $K_T$), starting from $T_A = $ `TA0` $= 0.5$ and no CAR-T cells, immunosuppressant or
    hypoxia. Each bolus adds to the functional CAR-T density C; the amounts sum to `total`
    (0.1, the 3D runs' first dose), each at most `max_dose`, at least `min_interval` days apart,
    within `[0, horizon]`. Objective: the final (`"final"`) or time-integrated (`"auc"`) burden
    $T_A + T_B$, or minus a smooth time to progression (`"ttp"`, progression at $1.2\,T_A(0)$).
    Stiff: solved with Kvaerno5, segment by segment between doses.
    """
    c = Constraints(horizon=float(horizon), n_doses=int(n_doses), total=total, max_dose=max_dose,
                    min_interval=min_interval)
    y0 = jnp.zeros(7).at[CARTHomogeneous.state_names.index("TA")].set(TA0)
    return ScheduleProblem(CARTHomogeneous(), NORMALISED, y0, c, burden_states=("TA", "TB"), dosed_state="C",
                           objective=objective, progression=kwargs.pop("progression", 1.2 * TA0), **kwargs)


#: the worked problems by command-line name.
PROBLEMS = {"te-infusion": infusion_control, "cart-doses": cart_split_dose, "ov-injections": oncolytic_injections}


def untreated(problem):
    """`(ts, burden)` without therapy (every dose zero), on the problem's horizon (for figures)."""
    s = problem.even_schedule()
    ts, ys, _ = problem.simulate(problem.schedule(jnp.zeros_like(s.doses), getattr(s, "times", None)))
    return np.asarray(ts), np.asarray(problem.burden(ys))
