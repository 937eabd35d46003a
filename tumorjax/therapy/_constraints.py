r"""Constraints on a dosing schedule: exact Euclidean projections and a quadratic penalty.

The dose sizes $x$ (bolus amounts, or infusion rates with interval widths $w$ as weights) live in
$\{0 \le x_i \le c,\ \sum_i w_i x_i = X\}$ (a weighted capped simplex; with a budget the sum is
$\le X$), the dose times in $\{0 \le t_1,\ t_{i+1} - t_i \ge d,\ t_k \le H\}$. Both projections are
exact and cheap: bisection on the shift $\lambda$ of $x = \mathrm{clip}(y - \lambda w, 0, c)$, and
for the times the substitution $s_i = t_i - (i-1)d$, which turns the set into a monotone cone cut
by a box, whose projection is the clipped isotonic regression (pool-adjacent-violators, here by
its min-max formula).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._schedules import BolusSchedule, InfusionSchedule

_BISECTIONS = 100  # halves the bracket to below float64 resolution


def project_capped_simplex(y, total=None, cap=None, weights=None, budget=None):
    r"""Euclidean projection of `y` onto $\{0 \le x \le c,\ w\cdot x = X\}$ (or $w\cdot x \le X$).

    $x(\lambda) = \mathrm{clip}(y - \lambda w, 0, c)$ satisfies the KKT conditions for every
    $\lambda$ and $w\cdot x(\lambda)$ is non-increasing in $\lambda$; the $\lambda$ with
    $w\cdot x = X$ is found by bisection. `total` asks for equality, `budget` for $\le$ (no
    shift when the clipped `y` already fits); with neither it is the box projection.
    Feasibility ($\sum_i w_i c \ge X$) is the caller's to check ([`Constraints`][] does).
    """
    y = jnp.asarray(y)
    w = jnp.ones_like(y) if weights is None else jnp.asarray(weights, y.dtype)
    c = jnp.inf if cap is None else cap
    box = jnp.clip(y, 0.0, c)
    target = total if total is not None else budget
    if target is None:
        return box
    target = jnp.asarray(target, y.dtype)
    reach = jnp.minimum(c, target / w)  # x_i large enough that w_i x_i alone reaches the target
    lo = jnp.min((y - reach) / w)  # every x_i = min(c, target/w_i): sum >= target
    hi = jnp.max(y / w)  # every x_i = 0: sum = 0 <= target

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        big = jnp.sum(w * jnp.clip(y - mid * w, 0.0, c)) > target
        return jnp.where(big, mid, lo), jnp.where(big, hi, mid)

    lo, hi = jax.lax.fori_loop(0, _BISECTIONS, halve, (lo, hi))
    shifted = jnp.clip(y - 0.5 * (lo + hi) * w, 0.0, c)
    if total is not None:
        return shifted
    return jnp.where(jnp.sum(w * box) <= target, box, shifted)


def isotonic_regression(y):
    r"""Projection of `y` onto the monotone cone $\{x_1 \le \dots \le x_k\}$.

    The min-max formula $x_i = \max_{j\le i}\min_{l\ge i}\mathrm{mean}(y_j..y_l)$, $O(k^3)$ in
    memory and time, which is nothing for dose counts; jit-, vmap- and grad-compatible.
    """
    y = jnp.asarray(y)
    k = y.shape[0]
    c = jnp.concatenate([jnp.zeros(1, y.dtype), jnp.cumsum(y)])
    j, l = jnp.arange(k)[:, None], jnp.arange(k)[None, :]
    means = (c[l + 1] - c[j]) / jnp.maximum(l - j + 1, 1)  # mean of y[j..l], used where j <= l
    i = jnp.arange(k)[:, None, None]
    valid = (j[None] <= i) & (l[None] >= i)
    inner = jnp.min(jnp.where(valid, means[None], jnp.inf), axis=2)  # over l >= i, for each (i, j)
    return jnp.max(jnp.where(jnp.arange(k)[None, :] <= jnp.arange(k)[:, None], inner, -jnp.inf), axis=1)


def project_times(t, horizon, min_interval=0.0):
    r"""Euclidean projection of `t` onto $\{0 \le t_1,\ t_{i+1} - t_i \ge d,\ t_k \le H\}$.

    With $s_i = t_i - (i-1)d$ the set is $\{0 \le s_1 \le \dots \le s_k \le H - (k-1)d\}$ and the
    map is a translation, so the projection is that of $s$: the isotonic regression clipped to
    the box (clipping commutes with pooling when every coordinate has the same bounds).
    """
    t = jnp.asarray(t)
    shift = min_interval * jnp.arange(t.shape[0], dtype=t.dtype)
    s = jnp.clip(isotonic_regression(t - shift), 0.0, horizon - shift[-1])
    return s + shift


@dataclasses.dataclass(frozen=True)
class Constraints:
    r"""What a schedule must satisfy, checked for consistency when built (before any tracing).

    **Arguments:**

    - `horizon`: dose times lie in `[0, horizon]` (model time units).
    - `n_doses`: number of doses (boluses) or of infusion intervals.
    - `total`: the total dose must equal this (bolus amounts summed, or $\int u\,dt$).
    - `budget`: the total dose must not exceed this (exclusive with `total`).
    - `max_dose`: the largest single dose (boluses) or infusion rate (infusions).
    - `min_interval`: the least time between consecutive boluses.
    - `family`: `"bolus"` (doses are amounts) or `"infusion"` (doses are rates on intervals
      spanning `[0, horizon]`, so the most a schedule can give is `max_dose * horizon`).

    Every dose (rate) is non-negative. An impossible set raises a `ValueError` naming the conflict:
    `n_doses * max_dose < total` (boluses), `max_dose * horizon < total` (infusions), or
    `(n_doses - 1) * min_interval > horizon`.
    """

    horizon: float
    n_doses: int
    total: float | None = None
    budget: float | None = None
    max_dose: float | None = None
    min_interval: float = 0.0
    family: str = "bolus"

    def __post_init__(self):
        if self.family not in ("bolus", "infusion"):
            raise ValueError(f"family must be 'bolus' or 'infusion', got {self.family!r}")
        if not (isinstance(self.n_doses, int | np.integer) and self.n_doses >= 1):
            raise ValueError(f"n_doses must be an integer >= 1, got {self.n_doses!r}")
        for name in ("horizon", "total", "budget", "max_dose", "min_interval"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int | float | np.floating) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, got {v!r}")
        if not self.horizon > 0:
            raise ValueError(f"horizon must be > 0, got {self.horizon}")
        if self.total is not None and self.budget is not None:
            raise ValueError("give either total (an equality) or budget (an upper bound), not both")
        if self.max_dose is not None and self.total is not None:
            if self.family == "bolus" and self.n_doses * self.max_dose < self.total:
                raise ValueError(f"infeasible constraints: n_doses * max_dose = {self.n_doses} * {self.max_dose} = "
                                 f"{self.n_doses * self.max_dose:g} < total = {self.total:g}")
            if self.family == "infusion" and self.max_dose * self.horizon < self.total:
                raise ValueError(f"infeasible constraints: max_dose * horizon = {self.max_dose} * {self.horizon} = "
                                 f"{self.max_dose * self.horizon:g} < total = {self.total:g}")
        if self.family == "infusion" and self.min_interval:
            raise ValueError("min_interval applies to bolus schedules; an infusion's intervals are fixed")
        if (self.n_doses - 1) * self.min_interval > self.horizon:
            raise ValueError(f"infeasible constraints: (n_doses - 1) * min_interval = {self.n_doses - 1} * "
                             f"{self.min_interval} = {(self.n_doses - 1) * self.min_interval:g} > horizon = "
                             f"{self.horizon:g}")

    def check(self, schedule):
        """Raise a `ValueError` if `schedule` does not fit these constraints' shape and family."""
        n = schedule.doses.shape[0]
        if n != self.n_doses:
            raise ValueError(f"schedule has {n} doses, the constraints {self.n_doses}")
        family = {BolusSchedule: "bolus", InfusionSchedule: "infusion"}.get(type(schedule))
        if family != self.family:
            raise ValueError(f"the constraints are for a {self.family} schedule, got {type(schedule).__name__}")
        if family == "infusion" and (abs(schedule.edges[-1] - self.horizon) > 1e-12 * self.horizon
                                     or schedule.edges[0] != 0):
            raise ValueError(f"infusion edges must span [0, horizon = {self.horizon}], got {schedule.edges}")

    def _weights(self, schedule):
        return schedule.widths if isinstance(schedule, InfusionSchedule) else None

    def project(self, schedule):
        """The nearest feasible schedule (Euclidean, separately in the doses and the times)."""
        x = project_capped_simplex(schedule.doses, self.total, self.max_dose, self._weights(schedule), self.budget)
        if isinstance(schedule, InfusionSchedule):
            return InfusionSchedule(schedule.edges, x)
        return BolusSchedule(project_times(schedule.times, self.horizon, self.min_interval), x, schedule.state)

    def residuals(self, schedule) -> dict:
        """Each constraint's violation (0 when satisfied), relative to its natural scale; times sorted, as simulated."""
        x, total = schedule.doses, schedule.total
        scale = max(self.total or self.budget or self.max_dose or 1.0, 1e-300)
        out = {"negative_dose": jnp.max(jnp.maximum(-x, 0.0)) / (self.max_dose or scale)}
        if self.max_dose is not None:
            out["max_dose"] = jnp.max(jnp.maximum(x - self.max_dose, 0.0)) / max(self.max_dose, 1e-300)
        if self.total is not None:
            out["total"] = jnp.abs(total - self.total) / scale
        if self.budget is not None:
            out["budget"] = jnp.maximum(total - self.budget, 0.0) / scale
        if isinstance(schedule, BolusSchedule):
            t = jnp.sort(schedule.times)
            out["times_in_horizon"] = jnp.maximum(jnp.maximum(-t[0], t[-1] - self.horizon), 0.0) / self.horizon
            if self.n_doses > 1:
                out["min_interval"] = jnp.max(jnp.maximum(self.min_interval - jnp.diff(t), 0.0)) / self.horizon
        return out

    def penalty(self, schedule):
        r"""$\sum$ of squared relative violations: the same terms as `residuals` (times sorted), summed over doses."""
        x, total = schedule.doses, schedule.total
        scale = max(self.total or self.budget or self.max_dose or 1.0, 1e-300)
        cap = self.max_dose or scale
        p = jnp.sum(jnp.maximum(-x, 0.0) ** 2) / cap**2
        if self.max_dose is not None:
            p += jnp.sum(jnp.maximum(x - self.max_dose, 0.0) ** 2) / cap**2
        if self.total is not None:
            p += ((total - self.total) / scale) ** 2
        if self.budget is not None:
            p += (jnp.maximum(total - self.budget, 0.0) / scale) ** 2
        if isinstance(schedule, BolusSchedule):
            t = jnp.sort(schedule.times)
            p += jnp.sum(jnp.maximum(-t, 0.0) ** 2 + jnp.maximum(t - self.horizon, 0.0) ** 2) / self.horizon**2
            p += jnp.sum(jnp.maximum(self.min_interval - jnp.diff(t), 0.0) ** 2) / self.horizon**2
        return p
