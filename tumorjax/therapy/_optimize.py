"""Schedule optimisation by gradient (projected Adam, or L-BFGS on a penalty) and the grid-search baseline.

Simulation counts: one objective evaluation is one simulation of the whole schedule (every
segment); a value-and-gradient evaluation is counted as one simulation too (its backward pass
costs a few forward solves, which the benchmark's CPU times include).
"""

import dataclasses
import itertools
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._problem import ScheduleProblem

METHODS = ("adam", "lbfgs")


def _as_dict(schedule) -> dict:
    out = {"doses": np.asarray(schedule.doses).tolist(), "total": float(schedule.total)}
    if hasattr(schedule, "times"):
        out.update(times=np.asarray(schedule.times).tolist(), state=schedule.state)
    else:
        out["edges"] = list(schedule.edges)
    return out


def _floats(terms) -> dict:
    return {k: (bool(v) if k == "ok" else float(v)) for k, v in terms.items()}


@dataclasses.dataclass
class ScheduleReport:
    """The outcome of [`optimize_schedule`][] or [`grid_search`][].

    `schedule` is the best schedule found, `value` its objective, `terms` its objective terms
    (final, auc, ttp, dose, target_excess, ...), `residuals` its constraint violations,
    `n_simulations` the number of schedule simulations used, `history` the objective at each
    iteration of each start (shape `(steps, starts)`; grid search: the sorted grid values),
    `wall_time_s` the time taken including compilation.
    """

    method: str
    schedule: object
    value: float
    terms: dict
    residuals: dict
    n_simulations: int
    history: np.ndarray
    wall_time_s: float
    settings: dict

    def as_dict(self) -> dict:
        return {"method": self.method, "value": self.value, "terms": self.terms, "residuals": self.residuals,
                "n_simulations": self.n_simulations, "wall_time_s": self.wall_time_s,
                "schedule": _as_dict(self.schedule), "settings": self.settings,
                "best_per_step": np.nanmin(self.history, axis=-1).tolist() if self.history.ndim == 2 else None}


def _finish(problem, method, z, history, n_sims, start, settings):
    schedule = problem.decode(z)
    terms = problem.terms(schedule)
    value = float(problem.loss(schedule, terms))
    residuals = {k: float(v) for k, v in problem.constraints.residuals(schedule).items()}
    return ScheduleReport(method, schedule, value, _floats(terms), residuals, int(n_sims), np.asarray(history),
                          time.perf_counter() - start, settings)


def random_starts(problem: ScheduleProblem, n: int, seed: int = 0):
    """`n` feasible starts (encoded): the even schedule, then uniform random doses and times, projected."""
    c = problem.constraints
    key_d, key_t = jax.random.split(jax.random.PRNGKey(seed))
    doses = jax.random.uniform(key_d, (n, c.n_doses), maxval=2 * problem.dose_unit)
    times = jnp.sort(jax.random.uniform(key_t, (n, c.n_doses), maxval=c.horizon), axis=1)
    z = jnp.stack([problem.encode(c.project(problem.schedule(d, None if c.family == "infusion" else t)))
                   for d, t in zip(doses, times)])
    return z.at[0].set(problem.encode(problem.even_schedule()))


def _tangent(problem, g):
    r"""Remove from the dose gradient its component along $w$ when the total $w\cdot x$ is fixed.

    Adam rescales each coordinate, so a gradient that is nearly parallel to $w$ would become
    a step that the projection then cancels; in the tangent space the step moves dose between
    the doses instead.
    """
    c = problem.constraints
    if c.total is None:
        return g
    k = c.n_doses
    w = jnp.ones(k) if c.family == "bolus" else jnp.diff(jnp.linspace(0.0, c.horizon, k + 1))
    gd = g[:k] - w * jnp.dot(w, g[:k]) / jnp.dot(w, w)
    return jnp.concatenate([gd, g[k:]])


@eqx.filter_jit
def _adam(problem, z0, steps, learning_rate):
    c = problem.constraints
    project = lambda z: problem.encode(c.project(problem.decode(z)))  # noqa: E731
    f = lambda z: problem.loss(problem.decode(z))  # noqa: E731
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.05))

    def one(z0):
        z0 = project(z0)  # every evaluated (and recorded) point is feasible, the start included

        def body(carry, _):
            z, state, best_z, best_v = carry
            v, g = jax.value_and_grad(f)(z)
            g = _tangent(problem, jnp.where(jnp.isfinite(g), g, 0.0))
            better = jnp.isfinite(v) & (v < best_v)
            best_z, best_v = jnp.where(better, z, best_z), jnp.where(better, v, best_v)
            updates, state = opt.update(g, state, z)
            return (project(optax.apply_updates(z, updates)), state, best_z, best_v), v

        init = (z0, opt.init(z0), z0, jnp.asarray(jnp.inf, z0.dtype))
        (_, _, best_z, best_v), history = jax.lax.scan(body, init, None, length=steps)
        return best_z, best_v, history

    return jax.vmap(one)(z0)


@eqx.filter_jit
def _lbfgs(problem, z0, steps, penalty_weight):
    c = problem.constraints
    f = lambda z: problem.loss(problem.decode(z)) + penalty_weight * c.penalty(problem.decode(z))  # noqa: E731
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    def one(z0):
        def body(carry, _):
            z, state, best_z, best_v, n = carry
            v, g = value_and_grad(z, state=state)
            better = jnp.isfinite(v) & (v < best_v)
            best_z, best_v = jnp.where(better, z, best_z), jnp.where(better, v, best_v)
            updates, state = opt.update(g, state, z, value=v, grad=g, value_fn=f)
            n = n + optax.tree.get(state, "num_linesearch_steps")
            return (optax.apply_updates(z, updates), state, best_z, best_v, n), v

        init = (z0, opt.init(z0), z0, jnp.asarray(jnp.inf, z0.dtype), jnp.asarray(1))
        (_, _, best_z, best_v, n), history = jax.lax.scan(body, init, None, length=steps)
        return best_z, best_v, history, n

    return jax.vmap(one)(z0)


def check_settings(steps, starts, learning_rate=0.05, penalty_weight=1e3):
    """Raise a `ValueError` naming the first bad optimiser setting (also used by the CLI before any setup)."""
    for name, v in (("steps", steps), ("starts", starts)):
        if not (isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    for name, v in (("learning_rate", learning_rate), ("penalty_weight", penalty_weight)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")


def _check_init(problem, schedule, k):
    """Raise a `ValueError` if initial schedule `k` is not of `problem`'s family, length, edges and dosed state."""
    try:
        problem.constraints.check(schedule)
    except ValueError as e:
        raise ValueError(f"init[{k}]: {e}") from None
    c = problem.constraints
    if hasattr(schedule, "times"):
        if schedule.state != problem.dosed_state:
            raise ValueError(f"init[{k}] doses state {schedule.state!r}; the problem doses {problem.dosed_state!r}")
    elif not np.allclose(schedule.edges, edges := np.linspace(0.0, c.horizon, c.n_doses + 1), rtol=1e-12, atol=0):
        raise ValueError(f"init[{k}] has edges {schedule.edges}; the problem's are {tuple(edges.tolist())}")


class NoFiniteObjective(RuntimeError):
    """Every start (or grid point) failed to solve: the objective is non-finite everywhere."""


def _best(values, what):
    """Index of the smallest finite value; [`NoFiniteObjective`][] when none is finite."""
    values = np.asarray(values)
    if not np.any(np.isfinite(values)):
        raise NoFiniteObjective(f"every {what} failed to solve (non-finite objective everywhere)")
    return int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))


def optimize_schedule(problem: ScheduleProblem, *, method: str = "adam", steps: int = 40, starts: int = 4,
                      learning_rate: float = 0.05, penalty_weight: float = 1e3, seed: int = 0,
                      init=()) -> ScheduleReport:
    r"""Minimise `problem`'s objective over its schedule family from `starts` starts at once (`vmap`).

    - `"adam"`: projected Adam. Each step takes an Adam step (`optax.adam` with a cosine decay
      from `learning_rate` to 5 % of it) in the normalised variables (doses / dose_unit,
      times / horizon), the dose gradient first projected onto the tangent space of a fixed
      total, and projects back onto the constraints exactly ([`Constraints.project`][]): every
      iterate is feasible.
    - `"lbfgs"`: `optax.lbfgs()` with its zoom line search on the objective plus
      `penalty_weight` times [`Constraints.penalty`][]; the result may violate the constraints
      slightly (see `residuals`). Line-search evaluations count as simulations.

    The first start is the even schedule (equal doses, equally spaced), the others random
    feasible schedules; schedules in `init` (of the problem's family, length, edges and dosed state;
    projected onto the constraints) replace the first starts, e.g. to refine a rule-based schedule.
    Returns a [`ScheduleReport`][] with the best iterate over all starts; a [`NoFiniteObjective`][] if no
    iterate of any start could be solved.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    check_settings(steps, starts, learning_rate, penalty_weight)
    start = time.perf_counter()
    if len(init) > starts:
        raise ValueError(f"{len(init)} initial schedules for {starts} starts")
    for k, schedule in enumerate(init):
        _check_init(problem, schedule, k)
    z0 = random_starts(problem, starts, seed)
    for k, schedule in enumerate(init):
        z0 = z0.at[k].set(problem.encode(problem.constraints.project(schedule)))
    if method == "adam":
        best_z, best_v, history = _adam(problem, z0, steps, learning_rate)
        n_sims = starts * steps
    else:
        best_z, best_v, history, n = _lbfgs(problem, z0, steps, penalty_weight)
        n_sims = int(np.sum(np.asarray(n)))
    i = _best(best_v, "start")
    settings = {"steps": steps, "starts": starts, "learning_rate": learning_rate, "seed": seed}
    if method == "lbfgs":
        settings["penalty_weight"] = penalty_weight
    return _finish(problem, method, best_z[i], np.asarray(history).T, n_sims + 1, start, settings)


def _compositions(units: int, parts: int):
    """All ways to write `units` as an ordered sum of `parts` non-negative integers."""
    for bars in itertools.combinations(range(units + parts - 1), parts - 1):
        edges = (-1,) + bars + (units + parts - 1,)
        yield [edges[i + 1] - edges[i] - 1 for i in range(parts)]


def grid_points(problem: ScheduleProblem, n_times: int = 8, n_levels: int = 4):
    """The grid over the schedule family, as encoded points, every one feasible.

    Doses: with a fixed `total`, every split of it into `n_levels` equal units; otherwise
    `n_levels + 1` equally spaced values from 0 to `max_dose` (or the dose unit) for each dose,
    kept if within the budget. Bolus times: every increasing choice from `n_times` equally spaced
    points in `[0, horizon)` that respects `min_interval`.
    """
    c = problem.constraints
    if c.total is not None:
        w = np.ones(c.n_doses) if c.family == "bolus" else np.full(c.n_doses, c.horizon / c.n_doses)
        doses = [np.array(u) * c.total / (n_levels * w) for u in _compositions(n_levels, c.n_doses)]
    else:
        top = c.max_dose or problem.dose_unit
        doses = [np.array(d) for d in itertools.product(np.linspace(0.0, top, n_levels + 1), repeat=c.n_doses)]
        if c.budget is not None:
            scale = 1.0 if c.family == "bolus" else c.horizon / c.n_doses
            doses = [d for d in doses if d.sum() * scale <= c.budget * (1 + 1e-12)]
    if c.max_dose is not None:
        doses = [d for d in doses if np.all(d <= c.max_dose * (1 + 1e-12))]
    if c.family == "infusion":
        return jnp.asarray(np.stack(doses) / problem.dose_unit)
    grid = np.linspace(0.0, c.horizon, n_times, endpoint=False)
    times = [np.array(t) for t in itertools.combinations(grid, c.n_doses)
             if c.n_doses == 1 or np.min(np.diff(t)) >= c.min_interval - 1e-12]
    if not doses or not times:
        raise ValueError(f"the grid is empty: n_times = {n_times} points cannot hold {c.n_doses} doses "
                         f"{c.min_interval} apart")
    pts = [np.concatenate([d / problem.dose_unit, t / c.horizon]) for d, t in itertools.product(doses, times)]
    return jnp.asarray(np.stack(pts))


@eqx.filter_jit
def _evaluate(problem, z, batch_size):
    return jax.lax.map(lambda zi: problem.loss(problem.decode(zi)), z, batch_size=batch_size)


def grid_search(problem: ScheduleProblem, *, n_times: int = 8, n_levels: int = 4, batch_size: int = 64,
                ) -> ScheduleReport:
    """Evaluate every point of [`grid_points`][] (vmapped in batches) and return the best.

    The baseline for [`optimize_schedule`][]: `n_simulations` is the number of grid points.
    """
    if n_times < 1 or n_levels < 1:
        raise ValueError(f"n_times and n_levels must be >= 1, got {n_times} and {n_levels}")
    start = time.perf_counter()
    z = grid_points(problem, n_times, n_levels)
    values = np.asarray(_evaluate(problem, z, min(batch_size, z.shape[0])))
    i = _best(values, "grid point")
    return _finish(problem, "grid", z[i], np.sort(values), z.shape[0], start,
                   {"n_times": n_times, "n_levels": n_levels})
